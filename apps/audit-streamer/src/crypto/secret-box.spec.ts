import { randomBytes } from 'node:crypto';
import { parseEncryptionKey, SecretBox } from './secret-box';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips a value in the v1 format', () => {
    const stored = box.encrypt('tok-ABC_123 ünïcode');
    expect(stored).toMatch(/^v1:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]*$/);
    expect(stored).not.toContain('tok-ABC');
    expect(box.decrypt(stored)).toBe('tok-ABC_123 ünïcode');
  });

  it('uses a different IV each time', () => {
    const a = box.encrypt('same');
    const b = box.encrypt('same');
    expect(a).not.toBe(b);
    expect(a.split(':')[1]).not.toBe(b.split(':')[1]);
  });

  it('throws when the ciphertext was tampered with', () => {
    const [v, iv, tag, ct] = box.encrypt('secret value').split(':');
    const bytes = Buffer.from(ct, 'base64');
    bytes[0] ^= 0x01;
    expect(() => box.decrypt([v, iv, tag, bytes.toString('base64')].join(':'))).toThrow();
  });

  it('throws when the tag was tampered with or the key differs', () => {
    const stored = box.encrypt('secret value');
    const [v, iv, tag, ct] = stored.split(':');
    const badTag = Buffer.from(tag, 'base64');
    badTag[3] ^= 0xff;
    expect(() => box.decrypt([v, iv, badTag.toString('base64'), ct].join(':'))).toThrow();
    expect(() => new SecretBox(randomBytes(32)).decrypt(stored)).toThrow();
  });

  it('rejects malformed values', () => {
    expect(() => box.decrypt('plaintext')).toThrow();
    expect(() => box.decrypt('v2:a:b:c')).toThrow();
  });
});

describe('parseEncryptionKey', () => {
  it('accepts 64 hex chars and base64 of 32 bytes', () => {
    const key = randomBytes(32);
    expect(parseEncryptionKey(key.toString('hex'))?.equals(key)).toBe(true);
    expect(parseEncryptionKey(key.toString('base64'))?.equals(key)).toBe(true);
  });

  it('rejects other lengths and garbage', () => {
    expect(parseEncryptionKey(randomBytes(16).toString('base64'))).toBeNull();
    expect(parseEncryptionKey('not a key!')).toBeNull();
  });
});
