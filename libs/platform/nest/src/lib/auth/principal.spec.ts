import { DEVELOPMENT_JWT_SECRET } from '../config/config';
import { AuthenticationError } from '../errors/domain-errors';
import { Principal } from './principal';
import { signToken, verifyToken } from './tokens';

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

  it('gives admins every role', () => {
    expect(new Principal(2, 'root', true, false, {}).hasRole('any/path', 'owner')).toBe(true);
  });
});

describe('tokens', () => {
  it('round-trips the claims', () => {
    const principal = verifyToken(signToken({ sub: '42', name: 'bob', auditor: true, groups: { g: 'owner' } }, DEVELOPMENT_JWT_SECRET), DEVELOPMENT_JWT_SECRET);
    expect(principal).toMatchObject({ userId: 42, username: 'bob', auditor: true, admin: false });
    expect(principal.roleOn('g/p')).toBe('owner');
  });

  it('rejects a token signed with another secret, an unsigned token and bad claims', () => {
    const other = signToken({ sub: '1', name: 'a', groups: {} }, 'x'.repeat(40));
    expect(() => verifyToken(other, DEVELOPMENT_JWT_SECRET)).toThrow(AuthenticationError);
    const none = `${Buffer.from('{"alg":"none","typ":"JWT"}').toString('base64url')}.${Buffer.from('{"sub":"1","name":"a","admin":true}').toString('base64url')}.`;
    expect(() => verifyToken(none, DEVELOPMENT_JWT_SECRET)).toThrow(AuthenticationError);
    const badRole = signToken({ sub: '1', name: 'a', groups: {} }, DEVELOPMENT_JWT_SECRET).split('.');
    expect(() => verifyToken(`${badRole[0]}.${Buffer.from('{"sub":"1","name":"a","groups":{"g":"god"}}').toString('base64url')}.${badRole[2]}`, DEVELOPMENT_JWT_SECRET)).toThrow(AuthenticationError);
  });
});
