import { randomBytes, randomInt } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 24 alphanumeric characters; randomInt is rejection-sampled, so every character is equally likely. */
export function generateVerificationToken(length = 24): string {
  let token = '';
  for (let i = 0; i < length; i++) token += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return token;
}

/** A Standard Webhooks signing secret: `whsec_` + base64 of 32 random bytes (the HMAC-SHA256 block-size half). */
export const generateSigningSecret = (): string => `whsec_${randomBytes(32).toString('base64')}`;

/** Default destination name when none is given, like GitLab's `Destination_<hex>`. */
export const defaultDestinationName = (): string => `Destination_${randomBytes(4).toString('hex')}`;

/**
 * Which secrets sign now: the current one, then the previous one until its grace period ends.
 * Pure (the clock comes in), so the grace period is tested without waiting for it.
 */
export function activeSigningSecrets(
  secrets: { current: string; previous: string | null },
  previousExpiresAt: string | null,
  now: Date,
): string[] {
  const previousValid =
    secrets.previous !== null && previousExpiresAt !== null && Date.parse(previousExpiresAt) > now.getTime();
  return previousValid ? [secrets.current, secrets.previous as string] : [secrets.current];
}
