/**
 * One load step of the end-to-end benchmark: an open loop at a rate, the wait until its audit
 * events are queryable and delivered (or a deadline), and what the step's figures say about
 * whether the pipeline sustains that rate.
 */
import { cpuWindow, processCpuS } from './cpu';
import { Action, ActionPlan, openLoop, Pipeline, Tracker } from './e2e-load';
import { sleep } from './run';
import { round, summarize, Summary } from './stats';
import { commandCpuS } from './streamer-service';

export interface StepLimits {
  drainMs: number;
  /** p99 (queryable and delivered) at or above this is not sustainable. */
  p99LimitMs: number;
}

export interface StepResult {
  rate: number;
  seconds: number;
  actions: number;
  written: number;
  errors: number;
  errorSamples: string[];
  /** Successful writes per second, from the first scheduled action to the last write's answer. */
  achievedPerS: number;
  writeMs: Summary;
  queryableMs: Summary;
  deliveredMs: Summary;
  missingQueryable: number;
  missingDelivered: number;
  /** p99 of the step's last third / (2 × first third's + 200 ms), queryable and delivered: > 1 means growing. */
  growth: { queryable: number; delivered: number };
  machineBusyPct: number;
  /** CPU ms per action during the open loop: each process of the pipeline, this bench process, all postgres, Kafka's java. */
  cpuMsPerAction: Record<string, number>;
  sustainable: boolean;
  /** Why not, when not. */
  reasons: string[];
}

const roundSummary = (s: Summary): Summary =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 1)])) as unknown as Summary;
const since = (a: Action, at: number | undefined) => (at === undefined ? undefined : at - a.scheduledAt);
const latencies = (actions: Action[], at: (a: Action) => number | undefined) =>
  actions.map((a) => since(a, at(a))).filter((v): v is number => v !== undefined);

/** Every written action seen by the poller and the receiver, or the deadline. */
async function drain(actions: Action[], deadlineMs: number): Promise<void> {
  const deadline = performance.now() + deadlineMs;
  let from = 0;
  while (performance.now() < deadline) {
    while (
      from < actions.length &&
      (actions[from].failed !== undefined ||
        (actions[from].queryableAt !== undefined && actions[from].deliveredAt !== undefined))
    )
      from += 1;
    if (from === actions.length) return;
    await sleep(20);
  }
}

/**
 * p99 of the step's last third over (2 × its first third's + 200 ms): above 1, a queue is building.
 * The slack keeps the jitter of a shared 2-core machine at low latencies from counting as growth.
 */
function growth(actions: Action[], at: (a: Action) => number | undefined): number {
  const third = Math.floor(actions.length / 3);
  if (third < 10) return NaN;
  const first = summarize(latencies(actions.slice(0, third), at)).p99;
  const last = summarize(latencies(actions.slice(-third), at)).p99;
  return last / (2 * first + 200);
}

/** CPU seconds so far of the pipeline's processes, this process, PostgreSQL and Kafka. */
function cpuNow(pids: Record<string, number | undefined>): Record<string, number> {
  const own = process.cpuUsage();
  return {
    ...Object.fromEntries(Object.entries(pids).map(([name, pid]) => [name, processCpuS(pid)])),
    bench: (own.user + own.system) / 1e6,
    postgres: commandCpuS(['postgres']),
    kafka: commandCpuS(['java']),
  };
}

export async function runStep(
  pipeline: Pipeline,
  plan: ActionPlan,
  tracker: Tracker,
  rate: number,
  seconds: number,
  limits: StepLimits,
): Promise<StepResult> {
  const stopCpu = cpuWindow(undefined);
  const cpu0 = cpuNow(pipeline.pids);
  const actions = await openLoop(pipeline, plan, tracker, rate, seconds);
  const machineBusyPct = round(stopCpu().machineBusy * 100, 1);
  const cpu1 = cpuNow(pipeline.pids);
  const cpuMsPerAction = Object.fromEntries(
    Object.keys(cpu1).map((k) => [k, round(((cpu1[k] - cpu0[k]) * 1000) / actions.length, 2)]),
  );
  await drain(actions, limits.drainMs);
  tracker.abandon(actions);
  const ok = actions.filter((a) => a.writtenAt !== undefined);
  const failed = actions.filter((a) => a.failed !== undefined && a.writtenAt === undefined);
  const lastWrite = ok.reduce((max, a) => Math.max(max, a.writtenAt as number), -Infinity);
  const achievedPerS = ok.length / ((lastWrite - actions[0].scheduledAt) / 1000);
  const r = {
    rate,
    seconds,
    actions: actions.length,
    written: ok.length,
    errors: failed.length,
    errorSamples: [...new Set(failed.map((a) => a.failed as string))].slice(0, 5),
    achievedPerS: round(achievedPerS, 1),
    writeMs: roundSummary(summarize(latencies(ok, (a) => a.writtenAt))),
    queryableMs: roundSummary(summarize(latencies(ok, (a) => a.queryableAt))),
    deliveredMs: roundSummary(summarize(latencies(ok, (a) => a.deliveredAt))),
    missingQueryable: ok.filter((a) => a.queryableAt === undefined).length,
    missingDelivered: ok.filter((a) => a.deliveredAt === undefined).length,
    growth: {
      queryable: round(
        growth(ok, (a) => a.queryableAt),
        2,
      ),
      delivered: round(
        growth(ok, (a) => a.deliveredAt),
        2,
      ),
    },
    machineBusyPct,
    cpuMsPerAction,
  };
  const reasons = [
    r.achievedPerS < 0.95 * rate && `achieved ${r.achievedPerS}/s < 95% of ${rate}/s`,
    r.errors > 0.01 * r.actions && `${r.errors} failed writes`,
    r.missingQueryable > 0 && `${r.missingQueryable} never queryable within ${limits.drainMs / 1000} s`,
    r.missingDelivered > 0 && `${r.missingDelivered} never delivered within ${limits.drainMs / 1000} s`,
    !(r.queryableMs.p99 < limits.p99LimitMs) && `queryable p99 ${r.queryableMs.p99} ms >= ${limits.p99LimitMs} ms`,
    !(r.deliveredMs.p99 < limits.p99LimitMs) && `delivered p99 ${r.deliveredMs.p99} ms >= ${limits.p99LimitMs} ms`,
    r.growth.queryable > 1 && `queryable p99 growing (last third > 2 × first third + 200 ms)`,
    r.growth.delivered > 1 && `delivered p99 growing (last third > 2 × first third + 200 ms)`,
  ].filter((x): x is string => typeof x === 'string');
  return { ...r, sustainable: reasons.length === 0, reasons };
}

/** | rate | achieved | write p99 | queryable p50/p95/p99 | delivered p50/p95/p99 | busy | sustainable | */
export function stepsTable(label: string, steps: StepResult[]): string {
  const lines = [
    `| ${label}: offered/s | achieved/s | write p99 | queryable p50 / p95 / p99 (ms) | delivered p50 / p95 / p99 (ms) | machine busy % | sustainable |`,
    '| ---: | ---: | ---: | ---: | ---: | ---: | --- |',
  ];
  for (const s of steps) {
    const q = s.queryableMs;
    const d = s.deliveredMs;
    lines.push(
      `| ${s.rate} | ${s.achievedPerS} | ${s.writeMs.p99} | ${q.p50} / ${q.p95} / ${q.p99} | ${d.p50} / ${d.p95} / ${d.p99} | ${s.machineBusyPct} | ${s.sustainable ? 'yes' : `no: ${s.reasons.join('; ')}`} |`,
    );
  }
  return lines.join('\n');
}
