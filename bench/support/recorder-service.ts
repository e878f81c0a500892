/**
 * Helpers of the audit-recorder benchmarks: the built recorder as its own process (service.ts, with
 * its deployed node flags), its memory sampled from /proc, and the report table with its own columns.
 */
import { readFileSync } from 'node:fs';
import { RunningService, startBuiltService } from './service';
import { round } from './stats';

export type RunningRecorder = RunningService;

/**
 * The recorder's node flags as deployed (deploy/audit-recorder.Dockerfile, scripts/start.sh): a 4 MB
 * young generation measured lower peak RSS (262 vs 305 MB) and higher catch-up throughput than the default.
 */
export const RECORDER_NODE_FLAGS = ['--max-semi-space-size=4'];

/** `nodeArgs`: extra flags for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export const startRecorder = (
  env: Record<string, string>,
  nodeArgs: string[] = [],
  readyTimeoutMs = 60_000,
): Promise<RunningRecorder> =>
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
    return {
      startMb: round(startMb, 1),
      peakMb: round(Math.max(peakMb, endMb), 1),
      endMb: round(endMb, 1),
      samples: samples + 1,
    };
  };
}

export interface Row {
  metric: string;
  recorder: number | undefined;
  baseline: number | undefined;
  digits?: number;
}

const cell = (n: number | undefined, digits = 2): string =>
  n === undefined || !Number.isFinite(n) ? '—' : round(n, digits).toString();

/** metric | audit-recorder | baseline | ratio (recorder / baseline). */
export function recorderTable(rows: Row[], baselineLabel: string): string {
  const lines = [
    `| metric | audit-recorder | ${baselineLabel} | ratio (recorder / baseline) |`,
    '| --- | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ratio =
      r.recorder !== undefined && r.baseline !== undefined && r.baseline !== 0 ? r.recorder / r.baseline : undefined;
    lines.push(`| ${r.metric} | ${cell(r.recorder, r.digits)} | ${cell(r.baseline, r.digits)} | ${cell(ratio)} |`);
  }
  return lines.join('\n');
}
