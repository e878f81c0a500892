import { activeSigningSecrets, generateSigningSecret, generateVerificationToken } from './secrets';

describe('generateVerificationToken', () => {
  it('is 24 alphanumeric characters and differs each time', () => {
    const a = generateVerificationToken();
    expect(a).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(generateVerificationToken()).not.toBe(a);
  });
});

describe('generateSigningSecret', () => {
  it('is whsec_ + base64 of 32 bytes, and differs each time', () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateSigningSecret()).not.toBe(secret);
  });
});

describe('activeSigningSecrets', () => {
  const secrets = { current: 'whsec_new', previous: 'whsec_old' };
  const expiry = '2026-11-22T10:00:00.000Z';

  it('signs with the current secret first and the previous one during its grace period', () => {
    expect(activeSigningSecrets(secrets, expiry, new Date('2026-11-22T09:59:59.999Z'))).toEqual([
      'whsec_new',
      'whsec_old',
    ]);
  });

  it('drops the previous secret once the grace period has ended', () => {
    expect(activeSigningSecrets(secrets, expiry, new Date(expiry))).toEqual(['whsec_new']);
  });

  it('signs with the current secret alone when there never was a rotation', () => {
    expect(activeSigningSecrets({ current: 'whsec_new', previous: null }, null, new Date())).toEqual(['whsec_new']);
  });
});
