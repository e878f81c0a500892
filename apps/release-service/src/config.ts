import { baseConfigShape, loadConfig, LoadedConfig } from '@audit/platform';
import { outboxConfigShape } from '@audit/outbox';
import { z } from 'zod';

export const ReleaseServiceConfigSchema = z.object({
  ...baseConfigShape({ port: 3001, database: 'release_service' }),
  /** Connections of the command (write) side's pool; reads use the ORM's pool. */
  WRITE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  ...outboxConfigShape,
});

export type ReleaseServiceConfig = z.infer<typeof ReleaseServiceConfigSchema> & LoadedConfig;

export const loadReleaseServiceConfig = (source: NodeJS.ProcessEnv = process.env): ReleaseServiceConfig =>
  loadConfig(ReleaseServiceConfigSchema, source) as ReleaseServiceConfig;
