import { generateKeyPairSync } from 'node:crypto';
import {
  CheckpointBody,
  checkpointDigest,
  checkpointSignatureValid,
  checkpointText,
  parseCheckpointBody,
  publicKeyFromPem,
  signCheckpoint,
  signingKeyFromPem,
} from './checkpoint';

const pemOf = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

const body = (key_id: string): CheckpointBody => ({
  version: 1,
  id: '3f0c8a4e-7a0e-4a53-9e43-0d1f0f3c9a11',
  sequence: 1,
  created_at: '2026-11-24T10:00:00.000Z',
  reason: 'interval',
  key_id,
  previous: null,
  chains: [{ chain: 'domain-events/0', seq: 3, hash: 'ab'.repeat(32) }],
  purged: [],
  log_files: [],
});

describe('checkpoints', () => {
  it('signs the text and verifies with the public key only, and only the same text', () => {
    const key = signingKeyFromPem(pemOf());
    const signed = signCheckpoint(body(key.keyId), key);
    expect(signed.body).toBe(checkpointText(body(key.keyId)));
    expect(checkpointSignatureValid(signed, publicKeyFromPem(key.publicKeyPem))).toBe(true);
    expect(
      checkpointSignatureValid({ ...signed, body: signed.body.replace('"seq":3', '"seq":4') }, key.publicKey),
    ).toBe(false);
    const other = signingKeyFromPem(pemOf());
    expect(checkpointSignatureValid(signed, other.publicKey)).toBe(false);
    expect(checkpointSignatureValid({ ...signed, signature: 'not base64 at all' }, key.publicKey)).toBe(false);
  });

  it('writes the same text for the same content whatever the key order it was given in', () => {
    const b = body('k');
    const shuffled = Object.fromEntries(Object.entries(b).reverse()) as unknown as CheckpointBody;
    expect(checkpointText(shuffled)).toBe(checkpointText(b));
    expect(checkpointDigest(checkpointText(b))).toMatch(/^[0-9a-f]{64}$/);
    expect(parseCheckpointBody(checkpointText(b))).toEqual(b);
    expect(parseCheckpointBody('{"version":2}')).toBeNull();
    expect(parseCheckpointBody('not json')).toBeNull();
  });

  it('refuses keys that are not Ed25519 private keys, saying why', () => {
    expect(() => signingKeyFromPem('hello')).toThrow('is not a PEM private key');
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    expect(() => signingKeyFromPem(rsa.toString())).toThrow('must be an Ed25519 key, not rsa');
    const key = signingKeyFromPem(pemOf());
    expect(key.keyId).toMatch(/^[0-9a-f]{32}$/);
    expect(() => publicKeyFromPem('nope')).toThrow('is not a PEM public key');
  });
});
