import { signToken, TokenClaims } from '@audit/platform';
import { TEST_JWT_SECRET } from './unique';

/** A bearer header for a test user; `groups` maps full paths to roles. */
export const bearer = (claims: Partial<TokenClaims> = {}, secret = TEST_JWT_SECRET): string =>
  `Bearer ${signToken({ sub: '1', name: 'alice', groups: {}, ...claims }, secret)}`;
