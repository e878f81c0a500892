import { hostname } from 'node:os';
import { telemetryConfigShape } from '@audit/telemetry';
import { z } from 'zod';
import { checkKafkaSecurity, pemCertificateFile, saslMechanism } from './kafka-settings';
import { isTrustedProxyEntry } from '../http/trusted-proxies';

/** Raised at boot when an environment variable is missing or invalid; names the variable. */
export class ConfigError extends Error {
  constructor(readonly problems: Array<{ variable: string; message: string }>) {
    super(`Invalid configuration: ${problems.map((p) => `${p.variable}: ${p.message}`).join('; ')}`);
    this.name = 'ConfigError';
  }
}

export const DEVELOPMENT_JWT_SECRET = 'development-only-secret-change-me-0123456789';

const port = (fallback: number) => z.coerce.number().int().min(1).max(65535).default(fallback);
const bool = (fallback: boolean) =>
  z
    .enum(['true', 'false', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((v) => v === 'true' || v === '1');
const csv = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  );
const brokerList = z
  .string()
  .default('127.0.0.1:9092')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
  )
  .pipe(z.array(z.string().regex(/^[^\s:]+:\d{1,5}$/, 'each broker must be host:port')).min(1));
const postgresUrl = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .refine((v) => /^postgres(ql)?:\/\//.test(v) && URL.canParse(v), 'must be a postgres:// URL')
    .refine(
      (v) => !URL.canParse(v) || new URL(v).username !== '',
      'must name the role to connect as (postgres://user@host:port/)',
    );
const milliseconds = (fallback: number, min: number, max: number) =>
  z.coerce.number().int().min(min).max(max).default(fallback);

/**
 * The origin (and optional path prefix) clients reach the service at, behind whatever proxy: absolute
 * links are built from it, never from the request's Host header, which the client controls.
 */
const publicUrl = z
  .string()
  .optional()
  .refine(
    (v) => v === undefined || (URL.canParse(v) && /^https?:$/.test(new URL(v).protocol)),
    'must be an http:// or https:// URL',
  )
  .refine(
    (v) => v === undefined || (!new URL(v).search && !new URL(v).hash && !new URL(v).username),
    'must have no query, fragment or credentials',
  )
  .transform((v) => (v === undefined ? undefined : v.replace(/\/+$/, '')));

const INSTANCE_NAME = /^[A-Za-z0-9._-]{1,100}$/;

/**
 * The host name, which is unique per replica where replicas are pods or containers, made to fit
 * INSTANCE_NAME's rule: a default must never stop the service.
 */
export const defaultInstanceName = (host: string = hostname()): string =>
  host.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 100) || 'instance';

/** Helpers for the service-specific parts of a configuration schema. */
export const env = { port, bool, csv, brokerList, postgresUrl, milliseconds };

/** The variables every service has (docs/contracts.md, "Processes and defaults"). */
export const baseConfigShape = (defaults: { port: number; database: string }) => ({
  NODE_ENV: z.enum(['development', 'test', 'production']).default('development'),
  PORT: port(defaults.port),
  HOST: z.string().min(1).default('127.0.0.1'),
  /** The role the service runs as (least privilege: DML on its tables, nothing more). */
  DATABASE_URL: postgresUrl(`postgres://${defaults.database}@127.0.0.1:5432/postgres`),
  /** The schema owner: applies migrations and the runtime role's grants at boot, then disconnects. */
  DATABASE_MIGRATION_URL: postgresUrl(`postgres://${defaults.database}_owner@127.0.0.1:5432/postgres`),
  DATABASE_NAME: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lowercase PostgreSQL identifier')
    .default(defaults.database),
  KAFKA_BROKERS: brokerList,
  KAFKA_TOPIC: z
    .string()
    .regex(/^[a-zA-Z0-9._-]{1,200}$/, 'must be a valid Kafka topic name')
    .default('domain-events'),
  /** Partitions of the topic when a service creates it: the most consumer replicas that can share the work. */
  KAFKA_TOPIC_PARTITIONS: z.coerce.number().int().min(1).max(1000).default(12),
  /**
   * A consumer that stops heartbeating (a killed process) keeps its partitions this long before the group hands
   * them to the others. At least the broker's group.min.session.timeout.ms (6000 by default).
   */
  KAFKA_SESSION_TIMEOUT_MS: milliseconds(10_000, 6_000, 1_800_000),
  /** How often a consumer heartbeats: less than a third of KAFKA_SESSION_TIMEOUT_MS (checked by loadConfig). */
  KAFKA_HEARTBEAT_INTERVAL_MS: milliseconds(1_000, 100, 600_000),
  /** TLS to the brokers (a managed Kafka); implied by KAFKA_SSL_CA_FILE. */
  KAFKA_SSL: bool(false),
  /** PEM bundle of the CAs that signed the brokers' certificates, instead of Node's public CAs. */
  KAFKA_SSL_CA_FILE: pemCertificateFile.optional(),
  /** false only outside production (checkKafkaSecurity). */
  KAFKA_SSL_REJECT_UNAUTHORIZED: bool(true),
  KAFKA_SASL_MECHANISM: saslMechanism.optional(),
  KAFKA_SASL_USERNAME: z.string().optional(),
  KAFKA_SASL_PASSWORD: z.string().optional(),
  /** The password in a file (a Kubernetes Secret mounted as a volume) instead of the environment. */
  KAFKA_SASL_PASSWORD_FILE: z.string().optional(),
  AUTH_JWT_SECRET: z.string().min(32, 'must be at least 32 characters').optional(),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  SHUTDOWN_TIMEOUT_MS: z.coerce.number().int().min(1000).max(120000).default(25000),
  PUBLIC_URL: publicUrl,
  /** Tells replicas apart: in every log line, the Kafka client id, and the recorder's JSON log file name. */
  INSTANCE_NAME: z
    .string()
    .regex(INSTANCE_NAME, 'must be 1-100 characters of A-Z a-z 0-9 . _ -')
    .default(defaultInstanceName()),
  /** Proxies whose X-Forwarded-* headers are believed: Express's `trust proxy` and the actor IP of audit events. */
  TRUSTED_PROXIES: csv.pipe(
    z.array(
      z.string().refine(isTrustedProxyEntry, (entry) => ({
        message: `${JSON.stringify(entry.slice(0, 100))} is not an IP address, a CIDR (address/bits), loopback, linklocal or uniquelocal`,
      })),
    ),
  ),
  /** A token must carry `exp`, at most this far in the future (and at most this long after its `iat`). */
  AUTH_TOKEN_MAX_LIFETIME_S: z.coerce.number().int().min(60).max(31_536_000).default(86_400),
  /** Requests per user per minute on each instance; 429 with Retry-After beyond it. */
  RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(10_000_000).default(7_200),
  /** A client must send its request line and headers within this. */
  HTTP_HEADERS_TIMEOUT_MS: milliseconds(10_000, 100, 300_000),
  /** ... and its whole request (body included) within this. */
  HTTP_REQUEST_TIMEOUT_MS: milliseconds(30_000, 100, 600_000),
  /** An idle keep-alive connection is closed after this. */
  HTTP_KEEP_ALIVE_TIMEOUT_MS: milliseconds(5_000, 100, 600_000),
  /** A connection on which nothing moves either way (a client that stopped reading) is closed after this. */
  HTTP_IDLE_TIMEOUT_MS: milliseconds(120_000, 1_000, 3_600_000),
  /** Open connections per instance; beyond it new connections are closed at once. */
  HTTP_MAX_CONNECTIONS: z.coerce.number().int().min(8).max(1_000_000).default(1_024),
  /** METRICS_ENABLED, OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_TRACES_SAMPLER_ARG. */
  ...telemetryConfigShape,
});

export type BaseConfig = z.infer<z.ZodObject<ReturnType<typeof baseConfigShape>>>;

/**
 * Validates `source` against `schema`. A production service must be given AUTH_JWT_SECRET; elsewhere
 * a development secret is used and the caller logs a loud warning.
 */
export function loadConfig<S extends z.ZodObject<ReturnType<typeof baseConfigShape> & z.ZodRawShape>>(
  schema: S,
  source: NodeJS.ProcessEnv = process.env,
): z.infer<S> & { AUTH_JWT_SECRET: string; usingDevelopmentSecret: boolean } {
  const cleaned = Object.fromEntries(Object.entries(source).filter(([, v]) => v !== ''));
  const parsed = schema.safeParse(cleaned);
  if (!parsed.success) {
    throw new ConfigError(
      parsed.error.issues.map((i) => ({ variable: String(i.path[0] ?? '(unknown)'), message: i.message })),
    );
  }
  const config = parsed.data as z.infer<S> & BaseConfig;
  if (!config.AUTH_JWT_SECRET && config.NODE_ENV === 'production') {
    throw new ConfigError([{ variable: 'AUTH_JWT_SECRET', message: 'is required when NODE_ENV=production' }]);
  }
  if (config.KAFKA_HEARTBEAT_INTERVAL_MS * 3 >= config.KAFKA_SESSION_TIMEOUT_MS) {
    // Fewer than three heartbeats per session: one late or lost heartbeat would cost the consumer its partitions.
    throw new ConfigError([
      {
        variable: 'KAFKA_HEARTBEAT_INTERVAL_MS',
        message: `must be less than a third of KAFKA_SESSION_TIMEOUT_MS (${config.KAFKA_SESSION_TIMEOUT_MS})`,
      },
    ]);
  }
  const kafka = checkKafkaSecurity(config);
  if (kafka.problems.length > 0) throw new ConfigError(kafka.problems);
  return {
    ...config,
    KAFKA_SSL: config.KAFKA_SSL || config.KAFKA_SSL_CA_FILE !== undefined,
    KAFKA_SASL_PASSWORD: kafka.password,
    AUTH_JWT_SECRET: config.AUTH_JWT_SECRET ?? DEVELOPMENT_JWT_SECRET,
    usingDevelopmentSecret: !config.AUTH_JWT_SECRET,
  };
}

export type LoadedConfig = BaseConfig & { AUTH_JWT_SECRET: string; usingDevelopmentSecret: boolean };

/** Injection token of the validated configuration object. */
export const APP_CONFIG = Symbol('APP_CONFIG');
