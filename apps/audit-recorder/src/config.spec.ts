import { keyIdOf, publicKeyFromPem } from '@audit/audit-chain';
import { ConfigError } from '@audit/platform';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DEVELOPMENT_SIGNING_KEY_FILE, loadAuditRecorderConfig } from './config';

const PRODUCTION = { NODE_ENV: 'production', AUTH_JWT_SECRET: 'x'.repeat(32) };

/** The problems of the ConfigError `load` throws (fails the test if it returns or throws something else). */
function problemsOf(load: () => unknown): ConfigError['problems'] {
  try {
    load();
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('the configuration was accepted');
}

describe('loadAuditRecorderConfig: integrity and retention', () => {
  let dir = '';
  const write = (name: string, content: string) => {
    const path = join(dir, name);
    writeFileSync(path, content, { mode: 0o600 });
    return path;
  };
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'recorder-config-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('has the documented defaults, and outside production signs with the development key', () => {
    const config = loadAuditRecorderConfig({});
    expect(config).toMatchObject({
      AUDIT_CHECKPOINT_INTERVAL_MS: 60_000,
      AUDIT_RETENTION_DAYS: 2555,
      AUDIT_LEGAL_HOLD: false,
      AUDIT_MAINTENANCE_INTERVAL_MS: 3_600_000,
      usingDevelopmentSigningKey: true,
    });
    expect(config.AUDIT_SIGNING_KEY_FILE).toBeUndefined();
    // The key of the repository's files: its public half is the one committed beside it.
    const published = publicKeyFromPem(
      readFileSync(DEVELOPMENT_SIGNING_KEY_FILE.replace(/\.pem$/, '.pub.pem'), 'utf8'),
    );
    expect(config.signingKey.keyId).toMatch(/^[0-9a-f]{32}$/);
    expect(config.signingKey.keyId).toBe(keyIdOf(published));
  });

  it('signs with the Ed25519 key of AUDIT_SIGNING_KEY_FILE, in production too', () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const file = write('own.pem', privateKey.export({ type: 'pkcs8', format: 'pem' }).toString());
    const config = loadAuditRecorderConfig({ ...PRODUCTION, AUDIT_SIGNING_KEY_FILE: file });
    expect(config.usingDevelopmentSigningKey).toBe(false);
    expect(config.signingKey.keyId).toBe(keyIdOf(publicKey));
    expect(config.signingKey.publicKeyPem).toBe(publicKey.export({ type: 'spki', format: 'pem' }).toString());
  });

  it.each([
    ['unset', {}],
    ['empty (as compose passes an unset variable)', { AUDIT_SIGNING_KEY_FILE: '' }],
  ])('refuses production with AUDIT_SIGNING_KEY_FILE %s, not falling back to the development key', (_label, env) => {
    expect(problemsOf(() => loadAuditRecorderConfig({ ...PRODUCTION, ...env }))).toEqual([
      { variable: 'AUDIT_SIGNING_KEY_FILE', message: 'is required when NODE_ENV=production' },
    ]);
  });

  it.each([
    ['a path that does not exist', () => join(dir, 'missing.pem'), /ENOENT/],
    ['a folder', () => dir, /EISDIR/],
    ['a file that is not a key', () => write('not-a-key.pem', '{"name":"audit-events-platform"}\n'), /not a PEM/],
    [
      'an RSA key',
      () =>
        write(
          'rsa.pem',
          generateKeyPairSync('rsa', { modulusLength: 2048 })
            .privateKey.export({ type: 'pkcs8', format: 'pem' })
            .toString(),
        ),
      /^must be an Ed25519 key, not rsa$/,
    ],
    [
      'an Ed25519 public key',
      () =>
        write(
          'public.pem',
          generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        ),
      /not a PEM private key/,
    ],
  ])('names AUDIT_SIGNING_KEY_FILE when it is %s', (_label, path, message) => {
    const problems = problemsOf(() => loadAuditRecorderConfig({ ...PRODUCTION, AUDIT_SIGNING_KEY_FILE: path() }));
    expect(problems).toEqual([{ variable: 'AUDIT_SIGNING_KEY_FILE', message: expect.stringMatching(message) }]);
  });

  it('verifies with the earlier public keys of AUDIT_VERIFY_PUBLIC_KEYS_DIR too, and names a bad one', () => {
    const keys = mkdtempSync(join(dir, 'keys-'));
    const earlier = generateKeyPairSync('ed25519').publicKey;
    writeFileSync(join(keys, 'before-2026.pem'), earlier.export({ type: 'spki', format: 'pem' }).toString());
    writeFileSync(join(keys, 'README'), 'not a key, not read');
    const config = loadAuditRecorderConfig({ AUDIT_VERIFY_PUBLIC_KEYS_DIR: keys });
    expect(config.verifyKeys.map((k) => keyIdOf(k))).toEqual([config.signingKey.keyId, keyIdOf(earlier)]);
    writeFileSync(join(keys, 'broken.pem'), 'nope');
    expect(problemsOf(() => loadAuditRecorderConfig({ AUDIT_VERIFY_PUBLIC_KEYS_DIR: keys }))).toEqual([
      { variable: 'AUDIT_VERIFY_PUBLIC_KEYS_DIR', message: 'broken.pem: is not a PEM public key' },
    ]);
    expect(problemsOf(() => loadAuditRecorderConfig({ AUDIT_VERIFY_PUBLIC_KEYS_DIR: join(dir, 'missing') }))).toEqual([
      expect.objectContaining({ variable: 'AUDIT_VERIFY_PUBLIC_KEYS_DIR' }),
    ]);
  });

  it('takes the retention, the legal hold and the intervals from the environment', () => {
    const config = loadAuditRecorderConfig({
      AUDIT_CHECKPOINT_INTERVAL_MS: '5000',
      AUDIT_RETENTION_DAYS: '365',
      AUDIT_LEGAL_HOLD: '1',
      AUDIT_MAINTENANCE_INTERVAL_MS: '60000',
    });
    expect(config).toMatchObject({
      AUDIT_CHECKPOINT_INTERVAL_MS: 5000,
      AUDIT_RETENTION_DAYS: 365,
      AUDIT_LEGAL_HOLD: true,
      AUDIT_MAINTENANCE_INTERVAL_MS: 60_000,
    });
    expect(loadAuditRecorderConfig({ AUDIT_LEGAL_HOLD: 'true' }).AUDIT_LEGAL_HOLD).toBe(true);
    expect(loadAuditRecorderConfig({ AUDIT_LEGAL_HOLD: 'false' }).AUDIT_LEGAL_HOLD).toBe(false);
  });

  it.each([
    ['AUDIT_RETENTION_DAYS', '0'],
    ['AUDIT_RETENTION_DAYS', '36501'],
    ['AUDIT_RETENTION_DAYS', '7y'],
    ['AUDIT_LEGAL_HOLD', 'maybe'],
    ['AUDIT_LEGAL_HOLD', 'yes'],
    ['AUDIT_CHECKPOINT_INTERVAL_MS', '999'],
    ['AUDIT_CHECKPOINT_INTERVAL_MS', '3600001'],
    ['AUDIT_MAINTENANCE_INTERVAL_MS', '999'],
    ['AUDIT_MAINTENANCE_INTERVAL_MS', '86400001'],
  ])('names %s when it is %j', (variable, value) => {
    const problems = problemsOf(() => loadAuditRecorderConfig({ [variable]: value }));
    expect(problems.map((p) => p.variable)).toEqual([variable]);
  });
});
