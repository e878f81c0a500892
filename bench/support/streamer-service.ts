/**
 * Helpers of the audit-streamer benchmark: the built streamer as its own process (as the image runs
 * it, `node dist/...main.js`, stopped with SIGTERM), and the report table with the streamer's columns.
 * The release-service and recorder helpers stay untouched; this mirrors their style.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { round } from './stats';

const ROOT = join(__dirname, '..', '..');
/** Bounded, so a chatty LOG_LEVEL cannot grow the benchmark's memory. */
const LOG_TAIL_CHARS = 20_000;

export interface RunningStreamer {
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

/** `nodeArgs`: extra flags for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export async function startStreamer(env: Record<string, string>, nodeArgs: string[] = [], readyTimeoutMs = 60_000): Promise<RunningStreamer> {
  const port = await freePort();
  let logs = '';
  const spawnedAt = performance.now();
  const child: ChildProcess = spawn(process.execPath, [...nodeArgs, join('dist', 'apps', 'audit-streamer', 'src', 'main.js')], {
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
  const service: RunningStreamer = {
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
    if (child.exitCode !== null) throw new Error(`audit-streamer exited with ${child.exitCode}:\n${logs.slice(-4000)}`);
    const res = await fetch(`${url}/ready`).catch(() => undefined);
    await res?.arrayBuffer();
    if (res?.status === 200) return service;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`audit-streamer not ready within ${readyTimeoutMs} ms:\n${logs.slice(-4000)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export interface StreamerRow {
  metric: string;
  streamer: number | undefined;
  baseline: number | undefined;
  /** Machine CPU busy (%, 2 cores = 100) while the streamer figure was measured. */
  busyPct?: number;
  /** The same while the baseline figure was measured. */
  baselineBusyPct?: number;
  digits?: number;
}

const cell = (n: number | undefined, digits = 2): string => (n === undefined || !Number.isFinite(n) ? '—' : round(n, digits).toString());

/** metric | <left> | machine busy | <right> | machine busy | ratio (left / right): each figure beside the machine busy % it was measured at. */
export function streamerTable(rows: StreamerRow[], left: string, right: string): string {
  const lines = [
    `| metric | ${left} | busy % | ${right} | busy % | ratio |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ratio = r.streamer !== undefined && r.baseline !== undefined && r.baseline !== 0 ? r.streamer / r.baseline : undefined;
    lines.push(`| ${r.metric} | ${cell(r.streamer, r.digits)} | ${cell(r.busyPct, 1)} | ${cell(r.baseline, r.digits)} | ${cell(r.baselineBusyPct, 1)} | ${cell(ratio)} |`);
  }
  return lines.join('\n');
}

/**
 * CPU seconds used so far by all processes whose command name (/proc/<pid>/comm) is one of `names`
 * (e.g. postgres backends, Kafka's java): where the rest of the machine's busy time goes. Processes
 * that exit between two samples drop out, so a difference is a lower bound.
 */
export function commandCpuS(names: readonly string[]): number {
  let total = 0;
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (!names.includes(comm)) continue;
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      total += (Number(fields[11]) + Number(fields[12])) / 100;
    } catch {
      // gone meanwhile
    }
  }
  return total;
}
