/**
 * End-to-end benchmark: releases written over HTTP to the built release-service, their audit events
 * read back through the audit-recorder's query API and received from the audit-streamer by a local
 * keep-alive webhook receiver, beside a bare floor of the same pipeline without the services
 * (support/e2e-floor.ts), in one run.
 *   npm run bench:e2e
 * Per action (a release create, or an update of an earlier release: half each), from the time it was
 * scheduled to be sent (open loop, support/e2e-load.ts): HTTP write → 201/200, → audit event
 * queryable (support/e2e-poller.ts: group API, ascending keyset pages, every E2E_POLL_MS), →
 * delivered to the receiver. Phases, for the services and then for the floor: a warm-up, E2E_BENCH_SECONDS at
 * E2E_STEADY_RATE, then steps of E2E_STEP_SECONDS stepping the rate up by E2E_RATE_STEP to E2E_MAX_RATE
 * until a step is not sustainable (achieved < 95% of offered, failed writes > 1%, an event not
 * queryable or not delivered within E2E_DRAIN_S, p99 >= E2E_P99_LIMIT_MS, or p99 growing within the
 * step). The floor's steps start at the services' highest sustainable rate, so both have figures there.
 * Knobs (env): E2E_BENCH_SECONDS (30), E2E_STEADY_RATE (200), E2E_STEP_SECONDS (15), E2E_RATE_STEP (200),
 * E2E_MAX_RATE (1600), E2E_WARMUP_S (5), E2E_POLL_MS (10), E2E_PROJECTS (8), E2E_CONNECTIONS (64),
 * E2E_DRAIN_S (30), E2E_P99_LIMIT_MS (1000), E2E_BASELINE (bare|none), BENCH_LOG_LEVEL (warn),
 * DATABASE_URL, KAFKA_BROKERS. Figures go to stdout and bench/results/e2e.json; a miss never fails the run.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { dropDatabase } from './support/baseline';
import { FloorPipeline, startFloorPipeline } from './support/e2e-floor';
import { ActionPlan, Pipeline, Tracker } from './support/e2e-load';
import { PageSource, Poller, PollerStats } from './support/e2e-poller';
import { E2eReceiver } from './support/e2e-receiver';
import { createTopic, serviceNames, ServicesPipeline, startServicesPipeline } from './support/e2e-services';
import { runStep, StepResult, stepsTable } from './support/e2e-steps';
import { deleteTopics } from './support/kafka';
import { FigureInput, figuresTable, writeResults } from './support/results';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { RunningService } from './support/service';

const baselineMode = process.env['E2E_BASELINE'] ?? 'bare';
if (!['bare', 'none'].includes(baselineMode)) throw new Error('E2E_BASELINE must be bare or none');
const cfg = {
  seconds: num('E2E_BENCH_SECONDS', 30),
  steadyRate: num('E2E_STEADY_RATE', 200),
  stepSeconds: num('E2E_STEP_SECONDS', 15),
  rateStep: num('E2E_RATE_STEP', 200),
  maxRate: num('E2E_MAX_RATE', 1600),
  warmupS: num('E2E_WARMUP_S', 5, 0),
  pollMs: num('E2E_POLL_MS', 10, 0),
  projects: num('E2E_PROJECTS', 8),
  connections: num('E2E_CONNECTIONS', 64),
  drainMs: num('E2E_DRAIN_S', 30) * 1000,
  p99LimitMs: num('E2E_P99_LIMIT_MS', 1000),
  partitions: 3,
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  baseline: baselineMode,
};
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const names = {
  ...serviceNames(suffix),
  floorDb: `bench_e2e_floor_${suffix}`,
  floorTopic: `bench-e2e-floor-${suffix}`,
  auditLog: join(tmpdir(), `bench-e2e-${suffix}.log`),
};
const WARMUP_RATE = 50;

const kafka = new Kafka({ brokers: BROKERS, clientId: 'e2e-bench', logLevel: logLevel.NOTHING });
const tracker = new Tracker();
const started: RunningService[] = [];
let receiver: E2eReceiver | undefined;
let services: ServicesPipeline | undefined;
let floor: FloorPipeline | undefined;
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop services', () => Promise.all(started.map((s) => s.stop()))],
      ['close HTTP pools', async () => services?.close()],
      ['stop floor', async () => floor?.close()],
      ['close receiver', async () => receiver?.close()],
      [
        'drop databases',
        () => Promise.all([...names.databases, names.floorDb].map((db) => dropDatabase(SERVER_URL, db))),
      ],
      ['delete topics', () => deleteTopics(kafka, [names.topic, `${names.topic}.dlq`, names.floorTopic])],
      ['remove audit log', async () => rmSync(names.auditLog, { force: true })],
    ];
    for (const [name, step] of steps)
      await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
  })();
  return cleaned;
}

interface PipelineRun {
  steady: StepResult;
  steps: StepResult[];
  /** Highest offered rate of a sustainable step (steady included); undefined when none was. */
  highest?: StepResult;
  /** The last step was sustainable at E2E_MAX_RATE: the highest rate is a lower bound. */
  capped: boolean;
  poller: PollerStats;
}

const ratesFrom = (from: number) => {
  const rates: number[] = [];
  for (let r = from; r <= cfg.maxRate; r += cfg.rateStep) rates.push(r);
  return rates;
};

const describeStep = (label: string, s: StepResult) =>
  log(
    `[${label}] ${s.rate}/s: achieved ${s.achievedPerS}/s, write p99 ${s.writeMs.p99} ms, queryable p50/p99 ${s.queryableMs.p50}/${s.queryableMs.p99} ms, delivered p50/p99 ${s.deliveredMs.p50}/${s.deliveredMs.p99} ms, machine ${s.machineBusyPct}% busy${s.sustainable ? '' : ` — not sustainable: ${s.reasons.join('; ')}`}\n        CPU ms per action: ${Object.entries(
      s.cpuMsPerAction,
    )
      .map(([k, v]) => `${k} ${v}`)
      .join(', ')}`,
  );

/** Warm-up, the steady phase, then the rate steps from `stepFrom` until one is not sustainable. */
async function runPipeline(pipeline: Pipeline, source: PageSource<unknown>, stepFrom: number): Promise<PipelineRun> {
  const plan = new ActionPlan(`e2e-${suffix}-${pipeline.label}`, pipeline.projects);
  const poller = new Poller(source, tracker, cfg.pollMs);
  const limits = { drainMs: cfg.drainMs, p99LimitMs: cfg.p99LimitMs };
  poller.start();
  try {
    if (cfg.warmupS > 0)
      describeStep(
        `${pipeline.label} warm-up`,
        await runStep(pipeline, plan, tracker, WARMUP_RATE, cfg.warmupS, limits),
      );
    const steady = await runStep(pipeline, plan, tracker, cfg.steadyRate, cfg.seconds, limits);
    describeStep(pipeline.label, steady);
    const steps: StepResult[] = [];
    let highest = steady.sustainable ? steady : undefined;
    let capped = false;
    for (const rate of steady.sustainable ? ratesFrom(stepFrom) : []) {
      await sleep(1000);
      const s = await runStep(pipeline, plan, tracker, rate, cfg.stepSeconds, limits);
      describeStep(pipeline.label, s);
      steps.push(s);
      if (!s.sustainable) break;
      highest = s;
      capped = rate + cfg.rateStep > cfg.maxRate;
    }
    return { steady, steps, highest, capped, poller: poller.stats };
  } finally {
    await poller.stop();
  }
}

/** The floor's step at `rate` (its steady phase when that is the rate). */
const atRate = (run: PipelineRun | undefined, rate: number | undefined) =>
  rate === undefined || !run ? undefined : [run.steady, ...run.steps].find((s) => s.rate === rate);

function figures(svc: PipelineRun, base: PipelineRun | undefined): FigureInput[] {
  const top = svc.highest?.rate;
  const svcTop = svc.highest;
  const baseTop = atRate(base, top);
  const pcts = ['p50', 'p95', 'p99'] as const;
  const at = `at ${cfg.steadyRate}/s`;
  return [
    ...pcts.map((p) => ({
      name: `HTTP write ${p} ${at} (ms; floor: COMMIT)`,
      value: svc.steady.writeMs[p],
      baseline: base?.steady.writeMs[p],
    })),
    ...pcts.map((p) => ({
      name: `write → queryable ${p} ${at} (ms)`,
      value: svc.steady.queryableMs[p],
      baseline: base?.steady.queryableMs[p],
      goals: p === 'p99' ? [{ goal: '< 250' }] : undefined,
    })),
    ...pcts.map((p) => ({
      name: `write → delivered ${p} ${at} (ms)`,
      value: svc.steady.deliveredMs[p],
      baseline: base?.steady.deliveredMs[p],
    })),
    {
      name: `every action queryable and delivered ${at} (missing)`,
      value: svc.steady.missingQueryable + svc.steady.missingDelivered + svc.steady.errors,
      baseline: base && base.steady.missingQueryable + base.steady.missingDelivered + base.steady.errors,
      goals: [{ goal: '= 0' }],
    },
    {
      name: `highest sustainable rate (actions/s${svc.capped || base?.capped ? `; ${cfg.maxRate} is the cap: a lower bound` : ''}${top === undefined || (base && !base.highest) ? `; — = not even ${cfg.steadyRate}/s` : ''})`,
      value: top,
      baseline: base?.highest?.rate,
    },
    ...(svcTop && top !== cfg.steadyRate
      ? [
          ...pcts.map((p) => ({
            name: `write → queryable ${p} at ${top}/s (ms)`,
            value: svcTop.queryableMs[p],
            baseline: baseTop?.queryableMs[p],
          })),
          ...pcts.map((p) => ({
            name: `write → delivered ${p} at ${top}/s (ms)`,
            value: svcTop.deliveredMs[p],
            baseline: baseTop?.deliveredMs[p],
          })),
        ]
      : []),
  ];
}

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.steadyRate}/s for ${cfg.seconds} s, then steps of ${cfg.rateStep}/s × ${cfg.stepSeconds} s up to ${cfg.maxRate}/s; poll every ${cfg.pollMs} ms; ${cfg.projects} projects; LOG_LEVEL=${cfg.logLevel}`,
  );
  receiver = await E2eReceiver.start(tracker);
  await createTopic(kafka, names.topic, cfg.partitions);
  services = await startServicesPipeline(
    {
      serverUrl: SERVER_URL,
      brokers: BROKERS,
      secret: SECRET,
      suffix,
      partitions: cfg.partitions,
      projects: cfg.projects,
      logLevel: cfg.logLevel,
      auditLog: names.auditLog,
      connections: cfg.connections,
    },
    receiver.url,
    started,
  );
  log(`services ready (pids ${started.map((s) => s.pid).join(', ')}); destination registered`);
  const svc = await runPipeline(services, services.source as PageSource<unknown>, cfg.steadyRate + cfg.rateStep);
  const exitCodes = await Promise.all(started.map((s) => s.stop()));
  await services.close();

  let base: PipelineRun | undefined;
  if (cfg.baseline === 'bare') {
    await createTopic(kafka, names.floorTopic, cfg.partitions);
    floor = await startFloorPipeline(
      {
        serverUrl: SERVER_URL,
        database: names.floorDb,
        kafka,
        brokers: BROKERS,
        topic: names.floorTopic,
        suffix,
        projects: cfg.projects,
        connections: 16,
        receiverUrl: receiver.url,
      },
      (err) => log(`floor produce failed: ${err.message}`),
    );
    log(`floor ready (consumers pid ${floor.pid})`);
    const top = svc.highest?.rate;
    base = await runPipeline(
      floor,
      floor.source as PageSource<unknown>,
      top !== undefined && top > cfg.steadyRate ? top : cfg.steadyRate + cfg.rateStep,
    );
  }

  const rows = figures(svc, base);
  process.stdout.write(
    `\n${stepsTable('services', [svc.steady, ...svc.steps])}\n\n${base ? `${stepsTable('floor', [base.steady, ...base.steps])}\n\n` : ''}`,
  );
  const details = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: cfg,
    services: { ...svc, exitCodes, receiverRequests: receiver.requests },
    floor: base,
  };
  const written = writeResults('e2e', details, rows);
  process.stdout.write(
    `${figuresTable(written)}\n\n(baseline: the bare floor, support/e2e-floor.ts; latencies from each action's scheduled send time; queryable stamps are late by up to ${cfg.pollMs} ms + one poll)\n`,
  );
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err: Error) => {
    process.exitCode = 1;
    const tails = started.map((s) => `--- service log tail (${s.url}) ---\n${s.logTail().slice(-3000)}\n`).join('');
    process.stderr.write(`[bench] failed: ${err.stack ?? err.message}\n${tails}`);
  })
  .finally(() => cleanup());
