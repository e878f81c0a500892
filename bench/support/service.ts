/**
 * Runs a built service as its own process, as the image does (`node dist/...main.js`, no
 * --enable-source-maps), and stops it with SIGTERM like an orchestrator would.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:net';
import { join } from 'node:path';

const ROOT = join(__dirname, '..', '..');
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
export async function startBuiltService(name: ServiceName, env: Record<string, string>, nodeArgs: string[] = [], readyTimeoutMs = 60_000): Promise<RunningService> {
  const port = await freePort();
  let logs = '';
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join('dist', 'apps', name, 'src', 'main.js')], {
    cwd: ROOT,
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

export const startReleaseService = (env: Record<string, string>, nodeArgs: string[] = [], readyTimeoutMs = 60_000): Promise<RunningService> =>
  startBuiltService('release-service', env, nodeArgs, readyTimeoutMs);
