import { baseConfigShape, loadConfig, LoadedConfig } from '@audit/platform';
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
  AUDIT_EVENT_TYPES_DIR: z.string().min(1).default('config/audit_events/types'),
  CONSUMER_CHUNK_SIZE: z.coerce.number().int().min(1).max(10000).default(500),
  /** CSV exports running at once in this instance, and per user; beyond them a 429 with Retry-After. */
  EXPORT_MAX_CONCURRENT: z.coerce.number().int().min(1).max(1000).default(4),
  EXPORT_MAX_CONCURRENT_PER_USER: z.coerce.number().int().min(1).max(1000).default(2),
  /** Exports are audit events too, published through this service's own outbox. */
  ...outboxConfigShape,
});

export type AuditRecorderConfig = z.infer<typeof AuditRecorderConfigSchema> & LoadedConfig;

export const loadAuditRecorderConfig = (source: NodeJS.ProcessEnv = process.env): AuditRecorderConfig =>
  loadConfig(AuditRecorderConfigSchema, source) as AuditRecorderConfig;
