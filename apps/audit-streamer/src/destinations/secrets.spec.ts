import { generateSigningSecret, generateVerificationToken } from './secrets';

describe('generateVerificationToken', () => {
  it('is 24 alphanumeric characters and differs each time', () => {
    const a = generateVerificationToken();
    expect(a).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(generateVerificationToken()).not.toBe(a);
  });
});

describe('generateSigningSecret', () => {
  it('is whsec_ + base64 of 24 bytes', () => {
    const secret = generateSigningSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{32}$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(24);
  });
});
