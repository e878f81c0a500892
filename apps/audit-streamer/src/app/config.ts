import { baseConfigShape, ConfigError, env, loadConfig, LoadedConfig } from '@audit/platform';
import { DEFAULT_AUDIT_EVENT_TYPES_DIR } from '@audit/audit-registry';
import { z } from 'zod';
import { DEVELOPMENT_ENCRYPTION_KEY, parseEncryptionKey } from '../crypto/secret-box';
import { isAllowListEntry } from '../destinations/url-policy';

export const AuditStreamerConfigSchema = z.object({
  ...baseConfigShape({ port: 3003, database: 'audit_streamer' }),
  KAFKA_GROUP_ID: z.string().regex(/^[a-zA-Z0-9._-]{1,200}$/, 'must be a valid consumer group id').default('audit-streamer'),
  /** Destinations must be https unless this is true (local development and tests). */
  STREAMING_ALLOW_HTTP: env.bool(false),
  /** Hosts, IPs or CIDRs let through the internal-address check. */
  STREAMING_ALLOWED_HOSTS: env.csv.pipe(
    z.array(z.string().refine(isAllowListEntry, 'each entry must be a host name, an IP or a CIDR')),
  ),
  /** 32 bytes, base64 or 64 hex characters: the key of secrets at rest. */
  ENCRYPTION_KEY: z
    .string()
    .optional()
    .refine((v) => v === undefined || parseEncryptionKey(v) !== null, 'must be 32 bytes as base64 or 64 hex characters'),
  DELIVERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  /** Fallback poll of the delivery worker; new deliveries wake it at once. */
  DELIVERY_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  AUDIT_EVENT_TYPES_DIR: z.string().min(1).default(DEFAULT_AUDIT_EVENT_TYPES_DIR),
});

export type AuditStreamerConfig = Omit<z.infer<typeof AuditStreamerConfigSchema>, 'ENCRYPTION_KEY'> &
  LoadedConfig & {
    /** The parsed key; never logged. */
    encryptionKey: Buffer;
    usingDevelopmentEncryptionKey: boolean;
  };

/** Like AUTH_JWT_SECRET: required in production, a loudly-announced development key elsewhere. */
export function loadAuditStreamerConfig(source: NodeJS.ProcessEnv = process.env): AuditStreamerConfig {
  const { ENCRYPTION_KEY, ...config } = loadConfig(AuditStreamerConfigSchema, source);
  if (!ENCRYPTION_KEY && config.NODE_ENV === 'production') {
    throw new ConfigError([{ variable: 'ENCRYPTION_KEY', message: 'is required when NODE_ENV=production' }]);
  }
  return {
    ...config,
    encryptionKey: ENCRYPTION_KEY ? (parseEncryptionKey(ENCRYPTION_KEY) as Buffer) : DEVELOPMENT_ENCRYPTION_KEY,
    usingDevelopmentEncryptionKey: !ENCRYPTION_KEY,
  };
}
