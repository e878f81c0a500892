import { KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { publicKeyFromPem, SigningKey, signingKeyFromPem } from '@audit/audit-chain';
import { baseConfigShape, ConfigError, env, loadConfig, LoadedConfig } from '@audit/platform';
import { outboxConfigShape } from '@audit/outbox';
import { z } from 'zod';

export const AuditRecorderConfigSchema = z.object({
  ...baseConfigShape({ port: 3002, database: 'audit_recorder' }),
  KAFKA_GROUP_ID: z.string().min(1).max(255).default('audit-recorder'),
  /**
   * Every stored audit event is appended here as one JSON line after its batch commits. `{instance}` is
   * replaced by INSTANCE_NAME, so replicas sharing a folder write a file each; `-` or `stdout`: to stdout.
   */
  AUDIT_LOG_FILE: z
    .string()
    .min(1)
    .default('log/audit_json.log')
    .refine((v) => !/[{}]/.test(v.replaceAll('{instance}', '')), 'the only placeholder is {instance}'),
  /**
   * The file is closed (renamed with its UTC closing time, its SHA-256 recorded for the next signed checkpoint)
   * before an append that would take it past this size; a single larger append still goes whole into one file.
   */
  AUDIT_LOG_MAX_BYTES: z.coerce.number().int().min(4096).max(Number.MAX_SAFE_INTEGER).default(104857600),
  /** Also closed at the first append of a new UTC day, so each file holds one day at most. */
  AUDIT_LOG_ROTATE_DAILY: env.bool(true),
  AUDIT_EVENT_TYPES_DIR: z.string().min(1).default('config/audit_events/types'),
  CONSUMER_CHUNK_SIZE: z.coerce.number().int().min(1).max(10000).default(500),
  /** CSV exports running at once in this instance, and per user; beyond them a 429 with Retry-After. */
  EXPORT_MAX_CONCURRENT: z.coerce.number().int().min(1).max(1000).default(4),
  EXPORT_MAX_CONCURRENT_PER_USER: z.coerce.number().int().min(1).max(1000).default(2),
  /**
   * Integrity (docs/architecture.md, "Integrity"): the Ed25519 private key (PEM, PKCS#8) that signs checkpoints.
   * Required when NODE_ENV=production; elsewhere the repository's development key is used, with a warning.
   */
  AUDIT_SIGNING_KEY_FILE: z.string().min(1).optional(),
  /** Public keys (PEM files) of earlier signing keys: checkpoints they signed still verify after a rotation. */
  AUDIT_VERIFY_PUBLIC_KEYS_DIR: z.string().min(1).optional(),
  /** How often the chain heads are signed when events were stored since the last checkpoint. */
  AUDIT_CHECKPOINT_INTERVAL_MS: z.coerce.number().int().min(1000).max(3_600_000).default(60_000),
  /** Retention: whole months older than this many days are purged (2555: seven years). */
  AUDIT_RETENTION_DAYS: z.coerce.number().int().min(1).max(36_500).default(2555),
  /** A legal hold suspends every purge, whatever the retention. */
  AUDIT_LEGAL_HOLD: z
    .enum(['true', 'false', '1', '0'])
    .default('false')
    .transform((v) => v === 'true' || v === '1'),
  /** How often the recorder checks for expired months and creates the coming months' partitions. */
  AUDIT_MAINTENANCE_INTERVAL_MS: z.coerce.number().int().min(1000).max(86_400_000).default(3_600_000),
  /** Exports are audit events too, published through this service's own outbox. */
  ...outboxConfigShape,
});

/** The key checkpoints are signed with outside production when AUDIT_SIGNING_KEY_FILE is not set. Public: never for real use. */
export const DEVELOPMENT_SIGNING_KEY_FILE = 'config/audit_signing/development-ed25519.pem';

export type AuditRecorderConfig = z.infer<typeof AuditRecorderConfigSchema> &
  LoadedConfig & {
    /** The checkpoint signing key, read and checked at boot. */
    signingKey: SigningKey;
    /** The keys checkpoints are verified with, by key id: the signing key's, then the earlier ones. */
    verifyKeys: KeyObject[];
    usingDevelopmentSigningKey: boolean;
  };

export function loadAuditRecorderConfig(source: NodeJS.ProcessEnv = process.env): AuditRecorderConfig {
  const config = loadConfig(AuditRecorderConfigSchema, source);
  const file = config.AUDIT_SIGNING_KEY_FILE;
  if (!file && config.NODE_ENV === 'production') {
    throw new ConfigError([{ variable: 'AUDIT_SIGNING_KEY_FILE', message: 'is required when NODE_ENV=production' }]);
  }
  let pem: string;
  try {
    pem = readFileSync(file ?? DEVELOPMENT_SIGNING_KEY_FILE, 'utf8');
  } catch (err) {
    throw new ConfigError([
      {
        variable: 'AUDIT_SIGNING_KEY_FILE',
        message: `cannot read ${file ?? DEVELOPMENT_SIGNING_KEY_FILE} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`,
      },
    ]);
  }
  let signingKey: SigningKey;
  try {
    signingKey = signingKeyFromPem(pem);
  } catch (err) {
    throw new ConfigError([{ variable: 'AUDIT_SIGNING_KEY_FILE', message: (err as Error).message }]);
  }
  const verifyKeys = [signingKey.publicKey, ...earlierPublicKeys(config.AUDIT_VERIFY_PUBLIC_KEYS_DIR)];
  return { ...config, signingKey, verifyKeys, usingDevelopmentSigningKey: !file } as AuditRecorderConfig;
}

/** The public keys (`*.pem`) of AUDIT_VERIFY_PUBLIC_KEYS_DIR: earlier signing keys, after a rotation. */
function earlierPublicKeys(dir: string | undefined): KeyObject[] {
  if (!dir) return [];
  const problem = (message: string) => new ConfigError([{ variable: 'AUDIT_VERIFY_PUBLIC_KEYS_DIR', message }]);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.pem'));
  } catch (err) {
    throw problem(`cannot read ${dir} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return files.sort().map((f) => {
    try {
      return publicKeyFromPem(readFileSync(join(dir, f), 'utf8'));
    } catch (err) {
      throw problem(`${f}: ${(err as Error).message}`);
    }
  });
}
