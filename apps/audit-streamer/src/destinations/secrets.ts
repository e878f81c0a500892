import { randomBytes, randomInt } from 'node:crypto';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** 24 alphanumeric characters; randomInt is rejection-sampled, so every character is equally likely. */
export function generateVerificationToken(length = 24): string {
  let token = '';
  for (let i = 0; i < length; i++) token += ALPHANUMERIC[randomInt(ALPHANUMERIC.length)];
  return token;
}

/** A Standard Webhooks signing secret: `whsec_` + base64 of 24 random bytes. */
export const generateSigningSecret = (): string => `whsec_${randomBytes(24).toString('base64')}`;

/** Default destination name when none is given, like GitLab's `Destination_<hex>`. */
export const defaultDestinationName = (): string => `Destination_${randomBytes(4).toString('hex')}`;
