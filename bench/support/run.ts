/**
 * What every benchmark script needs besides its service: env knobs, progress lines, the commit the
 * figures are of, and how busy the machine already was.
 */
import { execFileSync } from 'node:child_process';
import { join, resolve as resolvePath } from 'node:path';
import { cpuWindow } from './cpu';
import { round } from './stats';

const ROOT = join(__dirname, '..', '..');
/** The checkout whose services are benchmarked (support/service.ts SERVICE_ROOT): the figures are of its commit. */
const SERVICE_ROOT = resolvePath(process.env['BENCH_SERVICE_ROOT'] || ROOT);

export const log = (msg: string): void => {
  process.stdout.write(`[bench] ${msg}\n`);
};

export const num = (name: string, fallback: number, min = 1): number => {
  const raw = process.env[name];
  const value = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(value) || value < min) throw new Error(`${name} must be a number >= ${min}, got ${raw}`);
  return value;
};

export function gitInfo(): { commit: string; dirty: boolean; serviceRoot?: string } | undefined {
  try {
    const commit = execFileSync('git', ['rev-parse', '--short', 'HEAD'], {
      cwd: SERVICE_ROOT,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    // Others edit apps/ and libs/ concurrently: say when the figures are of uncommitted code.
    const dirty =
      execFileSync('git', ['status', '--porcelain', '--', 'apps', 'libs'], {
        cwd: SERVICE_ROOT,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim() !== '';
    return SERVICE_ROOT === resolvePath(ROOT) ? { commit, dirty } : { commit, dirty, serviceRoot: SERVICE_ROOT };
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
