import jwt from 'jsonwebtoken';
import { HostileResponse } from './http-client';
import { problemFields } from './judge';

/*
 * Tokens signed with the services' own secret whose claims are hostile: what a compromised or careless
 * issuer could mint. A token's claims end up in audit events, CSV cells, log lines and SQL parameters,
 * so each claim is input like a body field: a NUL in `name` once got a CSV served whose export was never
 * recorded, and a 500 from every write. Signed with jsonwebtoken over the JSON text itself (a string
 * payload is signed as it is), because signToken refuses such claims on purpose and an object would
 * lose an own `__proto__` key on the way (jsonwebtoken copies the payload with Object.assign).
 *
 * Every other claim of each token is a valid admin's who owns the fixture's group: were the hostile
 * claim let through, the request would do what it asks (a write stores, an export is served).
 */
export interface HostileToken {
  label: string;
  /** The claim the refusal must name (`token.<claim>`). */
  claim: string;
  /** Larger than the request head the HTTP server reads: a 431 problem (before any claim is read) will do. */
  oversized?: boolean;
  bearer: string;
}

/** A bearer token over this exact JSON text (HS256, the services' secret). */
export const rawBearer = (json: string, secret: string): string =>
  `Bearer ${jwt.sign(json, secret, { algorithm: 'HS256' })}`;

/** The JSON text of `claims` with `extra` members written in as they are (own `__proto__` keys included). */
export const claimsText = (claims: Record<string, unknown>, extra = ''): string => {
  const text = JSON.stringify(claims);
  return extra ? `{${extra},${text.slice(1)}` : text;
};

const YEAR_S = 365 * 86_400;

export function hostileTokens(secret: string, groupPath: string, nowS = Math.floor(Date.now() / 1000)): HostileToken[] {
  const base = {
    sub: '1',
    name: 'hostile-claims',
    admin: true,
    groups: { [groupPath]: 'owner' },
    iat: nowS,
    exp: nowS + 3600,
  };
  const token = (label: string, claim: string, changes: Record<string, unknown>, extraGroups = ''): HostileToken => {
    const claims = Object.fromEntries(Object.entries({ ...base, ...changes }).filter(([, v]) => v !== undefined));
    let text = claimsText(claims);
    // A member written into the groups object as JSON text (an own __proto__ key survives only so).
    if (extraGroups) text = text.replace(`"groups":{`, `"groups":{${extraGroups},`);
    const bearer = rawBearer(text, secret);
    return { label: `claims:${label}`, claim, bearer, ...(bearer.length > 16 * 1024 ? { oversized: true } : {}) };
  };
  const manyGroups = Object.fromEntries(Array.from({ length: 1001 }, (_, i) => [i.toString(36), 'guest']));
  return [
    token('name-nul', 'name', { name: 'a\u0000b' }),
    token('name-lone-high-surrogate', 'name', { name: 'a\ud800b' }),
    token('name-lone-low-surrogate', 'name', { name: '\udfffz' }),
    token('name-crlf-header-injection', 'name', { name: 'alice\r\nX-Injected: 1' }),
    token('name-escape-sequence', 'name', { name: '\u001b[31mred\u001b[0m' }),
    token('name-rtl-override', 'name', { name: 'alice\u202etxt.exe' }),
    token('name-256-chars', 'name', { name: 'x'.repeat(256) }),
    token('name-empty', 'name', { name: '' }),
    token('sub-letters', 'sub', { sub: 'root' }),
    token('sub-sql', 'sub', { sub: '1 OR 1=1' }),
    token('sub-number', 'sub', { sub: 1 }),
    token('admin-string', 'admin', { admin: 'true' }),
    token('groups-array', 'groups', { groups: [groupPath] }),
    token('groups-proto-admin', 'groups', {}, '"__proto__":{"admin":true}'),
    token('groups-constructor-prototype', 'groups', {}, '"constructor":{"prototype":{"admin":true}}'),
    token('groups-invalid-path', 'groups', { groups: { [groupPath]: 'owner', '../etc': 'owner' } }),
    token('groups-unknown-role', 'groups', { groups: { [groupPath]: 'god' } }),
    // 1,001 groups take more than the 16 KiB of request head the HTTP server reads (17 KB with names
    // of one or two characters): it is refused there, with a 431 problem, before any claim is read.
    token('groups-1001', 'groups', { groups: { ...manyGroups, [groupPath]: 'owner' } }),
    token('no-exp', 'exp', { exp: undefined }),
    token('exp-a-year-ahead', 'exp', { exp: nowS + YEAR_S }),
    token('exp-a-year-ahead-without-iat', 'exp', { iat: undefined, exp: nowS + YEAR_S }),
    token('iat-in-the-future', 'iat', { iat: nowS + 3600, exp: nowS + 7200 }),
  ];
}

/**
 * The answer a hostile token must get: a 401 naming the claim, as problem+json (`errors[].field` is
 * `token.<claim>`), or from GraphQL a 401 whose `errors` name it; a 431 problem will do for a token too
 * large for the HTTP server to read at all.
 */
export const refusesToken =
  (t: HostileToken, graphql: boolean) =>
  (r: HostileResponse): string | undefined => {
    if (t.oversized && r.status === 431)
      return r.contentType.startsWith('application/problem+json') ? undefined : 'expected a problem+json 431';
    if (r.status !== 401) return `expected 401 naming token.${t.claim}, got ${r.status}`;
    if (graphql) {
      return r.body.includes('"UNAUTHENTICATED"') && r.body.includes(`claim ${t.claim}`)
        ? undefined
        : `expected GraphQL errors naming claim ${t.claim} (UNAUTHENTICATED)`;
    }
    if (!r.contentType.startsWith('application/problem+json')) return 'expected a problem+json 401';
    return problemFields(r).includes(`token.${t.claim}`)
      ? undefined
      : `the 401 does not name token.${t.claim} in errors[].field`;
  };
