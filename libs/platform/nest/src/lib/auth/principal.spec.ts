import jwt from 'jsonwebtoken';
import { DEVELOPMENT_JWT_SECRET } from '../config/config';
import { AuthenticationError } from '../errors/domain-errors';
import { MAX_GROUP_CLAIMS } from './claims';
import { Principal, Role } from './principal';
import { DEFAULT_TOKEN_MAX_LIFETIME_S, signToken, verifyToken } from './tokens';

const verification = {
  AUTH_JWT_SECRET: DEVELOPMENT_JWT_SECRET,
  AUTH_TOKEN_MAX_LIFETIME_S: DEFAULT_TOKEN_MAX_LIFETIME_S,
};
const NOW_S = 1_800_000_000;
/** A token signed with the right secret whatever its payload: what a compromised or careless issuer could mint. */
const raw = (payload: Record<string, unknown>) =>
  jwt.sign(Object.fromEntries(Object.entries(payload).filter(([, v]) => v !== undefined)), DEVELOPMENT_JWT_SECRET, {
    algorithm: 'HS256',
    noTimestamp: payload['iat'] === undefined,
  });
const valid = (extra: Record<string, unknown> = {}) => ({
  sub: '7',
  name: 'alice',
  groups: {},
  iat: NOW_S,
  exp: NOW_S + 3600,
  ...extra,
});
const verify = (token: string) => verifyToken(token, verification, NOW_S * 1000);
const refusal = (token: string): { field?: string; message: string } => {
  try {
    verify(token);
  } catch (err) {
    expect(err).toBeInstanceOf(AuthenticationError);
    return { field: (err as AuthenticationError).fields[0]?.field, message: (err as Error).message };
  }
  throw new Error('the token was accepted');
};

describe('Principal', () => {
  const p = new Principal(1, 'alice', false, false, { top: 'developer', 'top/sub': 'owner', other: 'guest' });

  it('inherits a role down the group tree and takes the highest along the path', () => {
    expect(p.roleOn('top/project')).toBe('developer');
    expect(p.roleOn('top/sub/deeper/project')).toBe('owner');
    expect(p.hasRole('top/sub/x', 'owner')).toBe(true);
    expect(p.hasRole('top/x', 'maintainer')).toBe(false);
  });

  it('does not leak a role to a sibling whose path merely starts the same', () => {
    expect(p.roleOn('top-other/project')).toBeNull();
    expect(p.roleOn('top/subway')).toBe('developer');
  });

  it('gives admins every role, and tells who may know a path exists', () => {
    expect(new Principal(2, 'root', true, false, {}).hasRole('any/path', 'owner')).toBe(true);
    expect(p.canSee('other/x')).toBe(true);
    expect(p.canSee('elsewhere')).toBe(false);
    expect(new Principal(3, 'aud', false, true, {}).canSee('elsewhere')).toBe(true);
  });

  it('knows no role on an inherited property name', () => {
    for (const path of ['constructor', 'toString', '__proto__', 'hasOwnProperty']) expect(p.roleOn(path)).toBeNull();
  });
});

describe('tokens', () => {
  it('round-trips the claims', () => {
    const principal = verifyToken(
      signToken({ sub: '42', name: 'bob', auditor: true, groups: { g: 'owner' } }, DEVELOPMENT_JWT_SECRET),
      verification,
    );
    expect(principal).toMatchObject({ userId: 42, username: 'bob', auditor: true, admin: false });
    expect(principal.roleOn('g/p')).toBe('owner');
  });

  it('keeps a role on a group whose path is __proto__ or constructor (a plain object dropped the first)', () => {
    const token = signToken(
      {
        sub: '5',
        name: 'olivia',
        groups: Object.fromEntries([
          ['__proto__', 'owner'],
          ['constructor', 'maintainer'],
        ]) as Record<string, Role>,
      },
      DEVELOPMENT_JWT_SECRET,
    );
    const principal = verifyToken(token, verification);
    expect(principal.roleOn('__proto__/project')).toBe('owner');
    expect(principal.roleOn('constructor')).toBe('maintainer');
    // The same from a payload written as JSON text, as an identity provider sends it.
    const fromJson = raw(
      JSON.parse(`{"sub":"5","name":"o","iat":${NOW_S},"exp":${NOW_S + 60},"groups":{"__proto__":"owner"}}`),
    );
    expect(verify(fromJson).hasRole('__proto__', 'owner')).toBe(true);
  });

  it('rejects a token signed with another secret, an unsigned token and bad roles', () => {
    const other = signToken({ sub: '1', name: 'a', groups: {} }, 'x'.repeat(40));
    expect(() => verifyToken(other, verification)).toThrow(AuthenticationError);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from(`{"sub":"1","name":"a","admin":true,"exp":${NOW_S + 60}}`).toString('base64url')}.`;
    expect(() => verify(none)).toThrow(AuthenticationError);
    expect(refusal(raw(valid({ groups: { g: 'god' } })))).toMatchObject({ field: 'token.groups' });
  });

  it.each([
    ['a NUL', 'a\u0000b'],
    ['a lone high surrogate', 'a\ud800b'],
    ['a lone low surrogate', '\udfffz'],
    ['a line break', 'alice\r\nX-Injected: 1'],
    ['an escape sequence', '\u001b[31mred'],
    ['a right-to-left override', 'alice\u202etxt.exe'],
    ['nothing', ''],
    ['too much', 'x'.repeat(256)],
  ])('refuses a name claim with %s, naming the claim', (_label, name) => {
    expect(refusal(raw(valid({ name })))).toMatchObject({ field: 'token.name' });
  });

  it.each([
    ['sub', { sub: 1 }],
    ['sub', { sub: '-1' }],
    ['sub', { sub: '9'.repeat(16) }],
    ['admin', { admin: 'yes' }],
    ['auditor', { auditor: 1 }],
    ['groups', { groups: ['g'] }],
    ['groups', { groups: { 'a b': 'owner' } }],
    ['groups', { groups: { 'a\u0000': 'owner' } }],
    ['groups', { groups: { '../x': 'owner' } }],
    ['groups', { groups: { 'a//b': 'owner' } }],
    [
      'groups',
      { groups: Object.fromEntries(Array.from({ length: MAX_GROUP_CLAIMS + 1 }, (_, i) => [`g${i}`, 'guest'])) },
    ],
  ])('refuses a bad %s claim', (claim, extra) => {
    expect(refusal(raw(valid(extra)))).toMatchObject({ field: `token.${claim}` });
  });

  it('requires exp: a token without one never expired', () => {
    const { exp: _exp, ...forever } = valid();
    expect(refusal(raw(forever))).toMatchObject({
      field: 'token.exp',
      message: expect.stringContaining('must expire'),
    });
  });

  it('bounds the lifetime: exp at most AUTH_TOKEN_MAX_LIFETIME_S ahead, and after iat', () => {
    const day = DEFAULT_TOKEN_MAX_LIFETIME_S;
    expect(verify(raw(valid({ exp: NOW_S + day })))).toBeInstanceOf(Principal);
    expect(refusal(raw(valid({ iat: undefined, exp: NOW_S + day + 3600 })))).toMatchObject({ field: 'token.exp' });
    expect(refusal(raw(valid({ iat: NOW_S - 3600, exp: NOW_S + day })))).toMatchObject({ field: 'token.exp' });
    expect(refusal(raw(valid({ iat: NOW_S + 3600, exp: NOW_S + 7200 })))).toMatchObject({ field: 'token.iat' });
    const shorter = { ...verification, AUTH_TOKEN_MAX_LIFETIME_S: 600 };
    expect(() => verifyToken(raw(valid()), shorter, NOW_S * 1000)).toThrow(/more than 600 s/);
  });

  it('refuses an expired token and one not yet valid', () => {
    expect(() => verify(raw(valid({ iat: NOW_S - 7200, exp: NOW_S - 3600 })))).toThrow(/jwt expired/);
    expect(() => verify(raw(valid({ nbf: NOW_S + 3600 })))).toThrow(/jwt not active/);
  });

  it('will not mint a token the services would refuse', () => {
    expect(() => signToken({ sub: '1', name: 'a\u0000' }, DEVELOPMENT_JWT_SECRET)).toThrow(AuthenticationError);
  });
});
