import { createSecretKey, KeyObject } from 'node:crypto';
import jwt from 'jsonwebtoken';
import { AuthenticationError } from '../errors/domain-errors';
import { checkLifetime, CLOCK_SKEW_S, principalFromClaims, TokenClaims } from './claims';
import { Principal } from './principal';

/** What verifying a token needs from the configuration. */
export interface TokenVerification {
  AUTH_JWT_SECRET: string;
  AUTH_TOKEN_MAX_LIFETIME_S: number;
}

/** The default of AUTH_TOKEN_MAX_LIFETIME_S: a day. */
export const DEFAULT_TOKEN_MAX_LIFETIME_S = 86_400;

/**
 * Mints an HS256 token; used by `npm run token` and by tests. The claims are checked as a service
 * would check them, so a test cannot mint a token the services would refuse without meaning to.
 */
export function signToken(
  claims: TokenClaims,
  secret: string,
  expiresIn: jwt.SignOptions['expiresIn'] = '12h',
): string {
  principalFromClaims(claims);
  return jwt.sign({ ...claims, groups: claims.groups ?? {} }, secret, { algorithm: 'HS256', expiresIn });
}

/**
 * jsonwebtoken given a string secret first tries to parse it as a public key, which throws and
 * costs ~0.45 ms per request; a secret KeyObject skips that (~10 µs). One key per secret, cached.
 */
const secretKeys = new Map<string, KeyObject>();
const secretKeyOf = (secret: string): KeyObject => {
  let key = secretKeys.get(secret);
  if (!key) secretKeys.set(secret, (key = createSecretKey(Buffer.from(secret, 'utf8'))));
  return key;
};

/** Verifies signature (HS256 only), expiry, lifetime and every claim; each failure is a 401. */
export function verifyToken(token: string, verification: TokenVerification, nowMs = Date.now()): Principal {
  let payload: unknown;
  try {
    payload = jwt.verify(token, secretKeyOf(verification.AUTH_JWT_SECRET), {
      algorithms: ['HS256'],
      clockTolerance: CLOCK_SKEW_S,
      clockTimestamp: Math.floor(nowMs / 1000),
    });
  } catch (err) {
    throw new AuthenticationError(`Invalid token: ${(err as Error).message}`);
  }
  const principal = principalFromClaims(payload);
  checkLifetime(payload as Record<string, unknown>, {
    maxLifetimeS: verification.AUTH_TOKEN_MAX_LIFETIME_S,
    nowS: Math.floor(nowMs / 1000),
  });
  return principal;
}
