/**
 * Helpers of the audit-streamer benchmark: the built streamer as its own process (service.ts), and
 * the report table with the streamer's columns.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { RunningService, startBuiltService } from './service';
import { round } from './stats';

export type RunningStreamer = RunningService;

/** `nodeArgs`: extra flags for node itself (e.g. --cpu-prof, which NODE_OPTIONS refuses). */
export const startStreamer = (
  env: Record<string, string>,
  nodeArgs: string[] = [],
  readyTimeoutMs = 60_000,
): Promise<RunningStreamer> => startBuiltService('audit-streamer', env, [...nodeArgs], readyTimeoutMs);

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

const cell = (n: number | undefined, digits = 2): string =>
  n === undefined || !Number.isFinite(n) ? '—' : round(n, digits).toString();

/** metric | <left> | machine busy | <right> | machine busy | ratio (left / right): each figure beside the machine busy % it was measured at. */
export function streamerTable(rows: StreamerRow[], left: string, right: string): string {
  const lines = [
    `| metric | ${left} | busy % | ${right} | busy % | ratio |`,
    '| --- | ---: | ---: | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ratio =
      r.streamer !== undefined && r.baseline !== undefined && r.baseline !== 0 ? r.streamer / r.baseline : undefined;
    lines.push(
      `| ${r.metric} | ${cell(r.streamer, r.digits)} | ${cell(r.busyPct, 1)} | ${cell(r.baseline, r.digits)} | ${cell(r.baselineBusyPct, 1)} | ${cell(ratio)} |`,
    );
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
