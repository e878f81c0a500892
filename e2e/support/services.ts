import { ChildProcess, execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { serviceDatabase, TEST_JWT_SECRET, waitFor } from '@audit/testing';

const ROOT = join(__dirname, '..', '..');

export type ServiceName = 'release-service' | 'audit-recorder' | 'audit-streamer';

export interface RunningService {
  name: ServiceName;
  url: string;
  logs: string[];
  /** The port and environment it was started with, so a restart comes back at the same address. */
  port: number;
  env: Record<string, string>;
  pid: number;
  /** False once the process has exited, by itself or by a signal. */
  running: () => boolean;
  /** Sends `signal` (SIGTERM by default) and resolves with the exit code (null when killed by a signal). */
  stop: (signal?: NodeJS.Signals) => Promise<number | null>;
}

/** Builds the deployable JavaScript once per run, as `npm start` and the images do. */
export function buildServices(): void {
  execFileSync(
    'npx',
    ['swc', 'apps', 'libs', '--out-dir', 'dist', '--config-file', '.swcrc', '--ignore', '**/*.spec.ts'],
    { cwd: ROOT, stdio: 'pipe' },
  );
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  server.close();
  return port;
}

/**
 * Starts one service as its own process and waits until its /ready answers 200. Its database
 * (env.DATABASE_NAME) is set up as in production: created by the superuser, owned by the service's
 * owner role, and the service runs as its least-privileged role.
 */
export async function startService(
  name: ServiceName,
  env: Record<string, string>,
  options: { port?: number } = {},
): Promise<RunningService> {
  const port = options.port ?? (await freePort());
  const logs: string[] = [];
  const database =
    env['DATABASE_NAME'] && !env['DATABASE_URL'] ? await serviceDatabase(name, env['DATABASE_NAME']) : {};
  const child: ChildProcess = spawn(
    process.execPath,
    ['--enable-source-maps', join('dist', 'apps', name, 'src', 'main.js')],
    {
      cwd: ROOT,
      env: {
        PATH: process.env['PATH'] ?? '',
        AUTH_JWT_SECRET: TEST_JWT_SECRET,
        LOG_LEVEL: 'info',
        ...database,
        ...env,
        PORT: String(port),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (d: Buffer) => logs.push(d.toString()));
  child.stderr?.on('data', (d: Buffer) => logs.push(d.toString()));
  const url = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  try {
    // An exit ends the wait at once (waitFor would take a thrown error for "not yet" and poll on to its deadline).
    const outcome = await waitFor(
      `${name} to be ready`,
      async () => {
        if (child.exitCode !== null || child.signalCode !== null) return 'exited';
        const res = await fetch(`${url}/ready`).catch(() => undefined);
        return res?.status === 200 ? 'ready' : undefined;
      },
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    if (outcome === 'exited') throw new Error(`${name} exited with ${child.exitCode ?? child.signalCode}`);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`${(err as Error).message}\n--- ${name} logs ---\n${logs.join('').slice(-4000)}`);
  }
  return {
    name,
    url,
    logs,
    port,
    env,
    pid: child.pid as number,
    running: () => child.exitCode === null && child.signalCode === null,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null) return child.exitCode;
      child.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** The same service again, on the same port with the same environment (after a crash or a stop). */
export function restartService(service: RunningService): Promise<RunningService> {
  return startService(service.name, service.env, { port: service.port });
}
