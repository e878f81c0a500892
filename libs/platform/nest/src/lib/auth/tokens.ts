import jwt from 'jsonwebtoken';
import { AuthenticationError } from '../errors/domain-errors';
import { Principal, TokenClaims, TokenClaimsSchema } from './principal';

/** Mints an HS256 token; used by `npm run token` and by tests. */
export function signToken(claims: TokenClaims, secret: string, expiresIn: jwt.SignOptions['expiresIn'] = '12h'): string {
  return jwt.sign(TokenClaimsSchema.parse(claims), secret, { algorithm: 'HS256', expiresIn });
}

/** Verifies signature (HS256 only), expiry and claim shapes; every failure is a 401. */
export function verifyToken(token: string, secret: string): Principal {
  let payload: unknown;
  try {
    payload = jwt.verify(token, secret, { algorithms: ['HS256'] });
  } catch (err) {
    throw new AuthenticationError(`Invalid token: ${(err as Error).message}`);
  }
  const claims = TokenClaimsSchema.safeParse(payload);
  if (!claims.success) {
    const issue = claims.error.issues[0];
    throw new AuthenticationError(`Invalid token claim ${issue.path.join('.')}: ${issue.message}`);
  }
  return Principal.fromClaims(claims.data);
}
