/**
 * Helpers of the audit-recorder benchmarks: the built recorder as its own process (service.ts, with
 * its deployed node flags), its memory sampled from /proc, and the report table with its own columns.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuWindow } from './cpu';
import { RunningService, startBuiltService } from './service';
import { round } from './stats';

const ROOT = join(__dirname, '..', '..');

export const log = (msg: string): void => {
  process.stdout.write(`[bench] ${msg}\n`);
};

export const num = (name: string, fallback: number, min = 1): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${raw}`);
  return value;
};

export type RunningRecorder = RunningService;

/**
 * The recorder's node flags as deployed (deploy/audit-recorder.Dockerfile, scripts/start.sh): a 4 MB
 * young generation measured lower peak RSS (262 vs 305 MB) and higher catch-up throughput than the default.
 */
export const RECORDER_NODE_FLAGS = ['--max-semi-space-size=4'];

/** `nodeArgs`: extra flags for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export const startRecorder = (env: Record<string, string>, nodeArgs: string[] = [], readyTimeoutMs = 60_000): Promise<RunningRecorder> =>
  startBuiltService('audit-recorder', env, [...RECORDER_NODE_FLAGS, ...nodeArgs], readyTimeoutMs);

/** Resident set size in MB: of `pid` from /proc (VmRSS), or of this process when pid is undefined. */
export function rssMb(pid: number | undefined): number {
  if (pid === undefined) return process.memoryUsage().rss / 2 ** 20;
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** The kernel's own high-water mark of a process's RSS (VmHWM), in MB. */
export function peakRssMb(pid: number | undefined): number {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid ?? 'self'}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

export interface RssSamples {
  startMb: number;
  peakMb: number;
  endMb: number;
  samples: number;
}

/** Samples a process's RSS every `intervalMs` until the returned function is called. */
export function sampleRss(pid: number | undefined, intervalMs = 100): () => RssSamples {
  const startMb = rssMb(pid);
  let peakMb = startMb;
  let samples = 1;
  const timer = setInterval(() => {
    const mb = rssMb(pid);
    samples += 1;
    if (mb > peakMb) peakMb = mb;
  }, intervalMs);
  return () => {
    clearInterval(timer);
    const endMb = rssMb(pid);
    return { startMb: round(startMb, 1), peakMb: round(Math.max(peakMb, endMb), 1), endMb: round(endMb, 1), samples: samples + 1 };
  };
}

export interface Row {
  metric: string;
  recorder: number | undefined;
  baseline: number | undefined;
  digits?: number;
}

const cell = (n: number | undefined, digits = 2): string => (n === undefined || !Number.isFinite(n) ? '—' : round(n, digits).toString());

/** metric | audit-recorder | baseline | ratio (recorder / baseline). */
export function recorderTable(rows: Row[], baselineLabel: string): string {
  const lines = [`| metric | audit-recorder | ${baselineLabel} | ratio (recorder / baseline) |`, '| --- | ---: | ---: | ---: |'];
  for (const r of rows) {
    const ratio = r.recorder !== undefined && r.baseline !== undefined && r.baseline !== 0 ? r.recorder / r.baseline : undefined;
    lines.push(`| ${r.metric} | ${cell(r.recorder, r.digits)} | ${cell(r.baseline, r.digits)} | ${cell(ratio)} |`);
  }
  return lines.join('\n');
}

export function gitInfo(): { commit: string; dirty: boolean } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // Others edit apps/ and libs/ concurrently: say when the figures are of uncommitted code.
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'libs'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() !== '';
    return { commit, dirty };
  } catch {
    return undefined;
  }
}

/** Other workloads on the two cores distort every figure: measure and say so before starting. */
export async function backgroundBusyPct(): Promise<number> {
  const stop = cpuWindow(undefined);
  await new Promise((resolve) => setTimeout(resolve, 1000));
  const busy = round(stop().machineBusy * 100, 1);
  if (busy > 15) log(`WARNING: the machine is already ${busy}% busy before the run; figures will be noisy`);
  return busy;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
