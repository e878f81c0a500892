import { baseConfigShape, env, loadConfig, LoadedConfig } from '@audit/platform';
import { z } from 'zod';

export const ReleaseServiceConfigSchema = z.object({
  ...baseConfigShape({ port: 3001, database: 'release_service' }),
  /** Proxies whose X-Forwarded-For is believed when recording the actor's IP (IPs or CIDRs). */
  TRUSTED_PROXIES: env.csv,
  /** Fallback poll of the outbox relay; new events wake it at once, this only bounds a missed wake-up. */
  /** Connections of the command (write) side's pool; reads use the ORM's pool. */
  WRITE_POOL_SIZE: z.coerce.number().int().min(1).max(100).default(10),
  OUTBOX_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
});

export type ReleaseServiceConfig = z.infer<typeof ReleaseServiceConfigSchema> & LoadedConfig;

export const loadReleaseServiceConfig = (source: NodeJS.ProcessEnv = process.env): ReleaseServiceConfig =>
  loadConfig(ReleaseServiceConfigSchema, source) as ReleaseServiceConfig;
