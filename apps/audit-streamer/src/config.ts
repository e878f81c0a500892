import { baseConfigShape, ConfigError, env, loadConfig, LoadedConfig } from '@audit/platform';
import { DEFAULT_AUDIT_EVENT_TYPES_DIR } from '@audit/audit-registry';
import { z } from 'zod';
import { outboxConfigShape } from '@audit/outbox';
import { DEVELOPMENT_ENCRYPTION_KEY, parseEncryptionKey } from './crypto/secret-box';
import { isAllowListEntry } from './destinations/url-policy';

export const AuditStreamerConfigSchema = z.object({
  ...baseConfigShape({ port: 3003, database: 'audit_streamer' }),
  KAFKA_GROUP_ID: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/, 'must be a valid consumer group id')
    .default('audit-streamer'),
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
    .refine(
      (v) => v === undefined || parseEncryptionKey(v) !== null,
      'must be 32 bytes as base64 or 64 hex characters',
    ),
  DELIVERY_TIMEOUT_MS: z.coerce.number().int().min(100).max(120000).default(10000),
  /** Fallback poll of the delivery worker; new deliveries wake it at once. */
  DELIVERY_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  AUDIT_EVENT_TYPES_DIR: z.string().min(1).default(DEFAULT_AUDIT_EVENT_TYPES_DIR),
  STREAMING_MAX_DESTINATIONS_PER_GROUP: z.coerce.number().int().min(1).max(1000).default(5), // also the limit of instance-level destinations
  STREAMING_SECRET_GRACE_PERIOD_MS: z.coerce.number().int().min(0).max(2_592_000_000).default(86_400_000), // a rotated-out signing secret keeps signing this long
  ...outboxConfigShape, // configuration changes are audit events, published through this service's outbox
  DELIVERY_CONCURRENCY: z.coerce.number().int().min(1).max(1024).default(128), // requests in flight, all destinations
  DELIVERY_CONCURRENCY_PER_DESTINATION: z.coerce.number().int().min(1).max(256).default(32), // so one slow destination leaves slots to the others
  DELIVERY_RETRY_BASE_MS: z.coerce.number().int().min(10).max(3_600_000).default(1_000), // first retry delay, doubled per attempt, equal jitter
  DELIVERY_RETRY_MAX_MS: z.coerce
    .number()
    .int()
    .min(10)
    .max(7 * 86_400_000)
    .default(86_400_000), // longest wait between two attempts (24 h)
  DELIVERY_PAUSE_MAX_MS: z.coerce.number().int().min(10).max(86_400_000).default(60_000), // longest pause of a failing destination between probes
  DELIVERY_DEACTIVATE_AFTER_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(365 * 86_400_000)
    .default(3 * 86_400_000), // failing continuously this long: deactivated (72 h)
  DELIVERY_RETENTION_MS: z.coerce
    .number()
    .int()
    .min(1_000)
    .max(365 * 86_400_000)
    .default(7 * 86_400_000), // delivered records are pruned after this
  DELIVERY_PRUNE_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(3_600_000),
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
