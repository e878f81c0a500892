/**
 * Runs a built service as its own process, as the image does (`node dist/...main.js`, no
 * --enable-source-maps), and stops it with SIGTERM like an orchestrator would; its database set up
 * as production sets it up (serviceDatabase: created by the superuser, owned by the service's owner
 * role, the service running as its least-privileged role).
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { provisionServiceDatabase } from '../../libs/platform/nest/src/lib/database/roles';
import { log } from './run';

/**
 * The checkout whose built services run: this one, or BENCH_SERVICE_ROOT (another clone, e.g. at an
 * older commit, built there with swc as bench/README.md says), so that one benchmark measures the code
 * before and after a change. Also the services' working directory (config/audit_events/types).
 */
export const SERVICE_ROOT = resolve(process.env['BENCH_SERVICE_ROOT'] || join(__dirname, '..', '..'));
/** Bounded, so a chatty LOG_LEVEL cannot grow the benchmark's memory. */
const LOG_TAIL_CHARS = 20_000;

export type ServiceName = 'release-service' | 'audit-recorder' | 'audit-streamer';

export interface RunningService {
  url: string;
  pid: number | undefined;
  /** performance.now() when the process was spawned. */
  spawnedAt: number;
  logTail: () => string;
  stop: () => Promise<number | null>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * One built service as its own process, ready when its /ready answers 200. Every benchmark starts
 * its service through this. `nodeArgs`: flags for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses).
 */
export async function startBuiltService(
  name: ServiceName,
  env: Record<string, string>,
  nodeArgs: string[] = [],
  readyTimeoutMs = 60_000,
): Promise<RunningService> {
  const port = await freePort();
  let logs = '';
  const spawnedAt = performance.now();
  const main = join(SERVICE_ROOT, 'dist', 'apps', name, 'src', 'main.js');
  if (!existsSync(main)) throw new Error(`${main} is missing: build ${SERVICE_ROOT} first`);
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, main], {
    cwd: SERVICE_ROOT,
    env: { PATH: process.env['PATH'] ?? '', ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Always drained: a full pipe would block the service's logger and distort the figures.
  const keep = (d: Buffer) => {
    logs = (logs + d.toString()).slice(-LOG_TAIL_CHARS);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = once(child, 'exit');
  const url = `http://127.0.0.1:${port}`;
  const service: RunningService = {
    url,
    pid: child.pid,
    spawnedAt,
    logTail: () => logs,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}:\n${logs.slice(-4000)}`);
    const res = await fetch(`${url}/ready`).catch(() => undefined);
    await res?.arrayBuffer();
    if (res?.status === 200) return service;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} not ready within ${readyTimeoutMs} ms:\n${logs.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export const startReleaseService = (
  env: Record<string, string>,
  nodeArgs: string[] = [],
  readyTimeoutMs = 60_000,
): Promise<RunningService> => startBuiltService('release-service', env, nodeArgs, readyTimeoutMs);

/** The least-privileged role each service runs as (DATABASE_URL); it migrates as `<role>_owner` (the services' defaults). */
export const SERVICE_ROLES: Record<ServiceName, string> = {
  'release-service': 'release_service',
  'audit-recorder': 'audit_recorder',
  'audit-streamer': 'audit_streamer',
};

/**
 * A service's way into its database: DATABASE_URL (the role it runs as), DATABASE_MIGRATION_URL (the
 * owner role, absent in single-role mode) and DATABASE_NAME.
 */
export interface DatabaseEnv extends Record<string, string> {
  DATABASE_URL: string;
  DATABASE_NAME: string;
}

/** The server of `serverUrl` with another role (no password: the benchmarks, like the tests, need trust authentication). */
export function roleUrl(serverUrl: string, user: string): string {
  const url = new URL(serverUrl);
  url.username = user;
  url.password = '';
  url.pathname = '/postgres';
  return url.toString();
}

/**
 * Whether the services run with their own roles. BENCH_DB_ROLES=service|superuser; by default, when
 * the checkout knows roles (its built platform has database/roles.js): builds before the roles
 * (commit 8900987) take DATABASE_URL as the one role they migrate and run as, and create their database.
 */
export function dbRolesMode(): 'service' | 'superuser' {
  const knob = process.env['BENCH_DB_ROLES'];
  if (knob === 'service' || knob === 'superuser') return knob;
  if (knob) throw new Error(`BENCH_DB_ROLES must be service or superuser, got ${knob}`);
  return existsSync(join(SERVICE_ROOT, 'dist', 'libs', 'platform', 'nest', 'src', 'lib', 'database', 'roles.js'))
    ? 'service'
    : 'superuser';
}

/**
 * The database of one benchmarked service, as in production (`npm run db:setup`): the superuser at
 * `serverUrl` creates the service's two roles and the database, owned by the owner role; the service
 * then migrates as `<role>_owner` and runs as `<role>`. Idempotent. In single-role mode (dbRolesMode,
 * an older build) nothing is created: the service gets the superuser and creates its database itself.
 * The superuser stays the benchmark's own access (seeding, counting, dropping the database).
 */
export async function serviceDatabase(name: ServiceName, serverUrl: string, database: string): Promise<DatabaseEnv> {
  if (dbRolesMode() === 'superuser') {
    log(
      `${name}: single-role mode, DATABASE_URL is the superuser (${SERVICE_ROOT} has no database roles, or BENCH_DB_ROLES=superuser)`,
    );
    return { DATABASE_URL: serverUrl, DATABASE_NAME: database };
  }
  const role = SERVICE_ROLES[name];
  const env = {
    DATABASE_URL: roleUrl(serverUrl, role),
    DATABASE_MIGRATION_URL: roleUrl(serverUrl, `${role}_owner`),
    DATABASE_NAME: database,
  };
  await provisionServiceDatabase({
    adminUrl: serverUrl,
    database,
    ownerUrl: env.DATABASE_MIGRATION_URL,
    runtimeUrl: env.DATABASE_URL,
  });
  return env;
}

/**
 * RATE_LIMIT_PER_MINUTE for a service a benchmark drives from one token at thousands of requests per
 * minute: the config's maximum, which no benchmark reaches. The limiter still runs on every request
 * (its cost stays in the measurement); it just never refuses one.
 */
export const UNREACHABLE_RATE_LIMIT = '10000000';
