/**
 * Consumer catch-up benchmark: the built audit-recorder drains a preloaded topic of domain events
 * into a fresh database, beside a bare kafkajs + pg baseline doing the same writes, in one run.
 *   npm run bench:recorder
 * Knobs (env): BENCH_EVENTS (200000), BENCH_PARTITIONS (3), BENCH_PROJECTS (50), BENCH_PRODUCE_BATCH (1000),
 * BENCH_TIMEOUT_S (600, per phase), BENCH_LOG_LEVEL (warn), BENCH_CHUNK_SIZE (the service's CONSUMER_CHUNK_SIZE,
 * its default when unset), BENCH_BASELINE (bare|none), BENCH_SERVICE_NODE_ARGS (extra node flags for the service,
 * e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"), DATABASE_URL, KAFKA_BROKERS.
 * Figures go to stdout and bench/results/recorder.json. Targets print PASS/MISS; a miss never fails the run.
 *
 * Rates are given twice: end to end (from the service's spawn, or the baseline consumer's connect,
 * to the last row stored: boot, migrations and the group join included) and steady (from the first
 * stored row to the last), the latter being what the targets judge.
 *
 * The baseline is what PostgreSQL does with the same rows without the service: the recorder's table as its
 * migrations leave it (partitioned by month, support/baseline.ts), the same columns the recorder inserts,
 * chain fields included, one chain per partition as the recorder keeps them. The links are computed with
 * linkEvents (libs/audit/chain) inside the timed loop, per batch, because the recorder pays that cost on its
 * hot path too (ChainWriter hashes every chunk before its insert): hashing ahead of time would take the
 * SHA-256 of every event out of the baseline and leave it in the service's figure. Its statement is the
 * recorder's shape: the rows and the chain's head row (moved by compare-and-set) in one statement per batch.
 * The months of the preloaded events are created before the timing starts (the recorder's migration creates
 * the current month and the next two; the fixtures' events are of November 2026).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { v5 as uuidv5 } from 'uuid';
import { chainName } from '../libs/audit/chain/src';
import { releaseCreatedEvent } from '../libs/platform/testing/src/lib/fixtures';
import { ChainAppender, ensureMonths } from './support/audit-chain';
import { AUDIT_EVENTS_DDL, databaseUrl, dropDatabase } from './support/baseline';
import { cpuWindow } from './support/cpu';
import { createLogAppendTimeTopic, deleteTopics } from './support/kafka';
import { peakRssMb, recorderTable, RunningRecorder, sampleRss, startRecorder } from './support/recorder-service';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { serviceDatabase } from './support/service';
import { writeResults } from './support/results';
import { round, Target, targetLines } from './support/stats';

const baselineMode = process.env['BENCH_BASELINE'] ?? 'bare';
if (!['bare', 'none'].includes(baselineMode)) throw new Error('BENCH_BASELINE must be bare or none');
const cfg = {
  events: num('BENCH_EVENTS', 200_000),
  partitions: num('BENCH_PARTITIONS', 3),
  projects: num('BENCH_PROJECTS', 50),
  produceBatch: num('BENCH_PRODUCE_BATCH', 1000),
  timeoutMs: num('BENCH_TIMEOUT_S', 600) * 1000,
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  chunkSize: process.env['BENCH_CHUNK_SIZE'] ? num('BENCH_CHUNK_SIZE', 500) : undefined,
  serviceNodeArgs: (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
  baseline: baselineMode,
};
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const names = {
  serviceDb: `bench_recorder_${suffix}`,
  baselineDb: `bench_recbase_${suffix}`,
  topic: `bench-recorder-events-${suffix}`,
  serviceGroup: `bench-recorder-${suffix}`,
  baselineGroup: `bench-recbase-${suffix}`,
  auditLog: join(tmpdir(), `bench-recorder-${suffix}.log`),
};
// The namespace of the recorder's audit event ids (libs/audit/mapping/src/lib/audit-event-id.ts).
const AUDIT_EVENT_ID_NAMESPACE = '6f1c8e0a-2f7b-5d3e-9c41-8a7b2d5e4f10';

const kafka = new Kafka({ brokers: BROKERS, clientId: 'recorder-bench', logLevel: logLevel.NOTHING });
let service: RunningRecorder | undefined;
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop service', async () => service?.stop()],
      [
        'drop databases',
        () => Promise.all([dropDatabase(SERVER_URL, names.serviceDb), dropDatabase(SERVER_URL, names.baselineDb)]),
      ],
      ['delete topics', () => deleteTopics(kafka, [names.topic, `${names.topic}.dlq`])],
      ['remove audit log', async () => rmSync(names.auditLog, { force: true })],
    ];
    for (const [name, step] of steps)
      await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
  })();
  return cleaned;
}

/** The earliest and latest occurred_at of the preloaded events (ms): the months the baseline creates. */
const occurred = { min: Infinity, max: -Infinity };

/** Schema-valid ReleaseCreated envelopes, generated batch by batch so the bench process stays small. */
async function preload(): Promise<{ seconds: number; eventsPerS: number }> {
  await createLogAppendTimeTopic(kafka, names.topic, cfg.partitions);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const t0 = performance.now();
  try {
    for (let start = 1; start <= cfg.events; start += cfg.produceBatch) {
      const messages = [];
      for (let n = start; n < Math.min(start + cfg.produceBatch, cfg.events + 1); n++) {
        const projectId = (n % cfg.projects) + 1;
        const event = releaseCreatedEvent(n, projectId, `bench-group/project-${projectId}`);
        const at = Date.parse(event.occurred_at);
        if (at < occurred.min) occurred.min = at;
        if (at > occurred.max) occurred.max = at;
        messages.push({ key: `Project:${projectId}`, value: JSON.stringify(event) });
      }
      await producer.send({ topic: names.topic, acks: -1, messages });
    }
  } finally {
    await producer.disconnect();
  }
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: round(seconds, 2), eventsPerS: round(cfg.events / seconds, 0) };
}

interface Drain {
  endToEndS: number;
  endToEndPerS: number;
  steadyS: number;
  steadyPerS: number;
  stored: number;
  complete: boolean;
  cpuS: number;
  selfCpuS: number;
  machineBusyPct: number;
  rss: { startMb: number; peakMb: number; endMb: number; hwmMb: number };
}

/** Polls `count` until it reaches the number of events or the deadline; the first non-zero sample starts the steady window. */
async function waitStored(
  count: () => Promise<number>,
  deadline: number,
): Promise<{ first?: { at: number; count: number }; doneAt: number; stored: number }> {
  let first: { at: number; count: number } | undefined;
  for (;;) {
    const stored = await count();
    const at = performance.now();
    if (!first && stored > 0) first = { at, count: stored };
    if (stored >= cfg.events || at > deadline) return { first, doneAt: at, stored };
    await sleep(stored > 0 ? 100 : 50);
  }
}

const drainFigures = (startedAt: number, r: Awaited<ReturnType<typeof waitStored>>) => {
  const endToEndS = (r.doneAt - startedAt) / 1000;
  const steadyS = r.first ? (r.doneAt - r.first.at) / 1000 : NaN;
  return {
    endToEndS: round(endToEndS, 2),
    endToEndPerS: round(r.stored / endToEndS, 0),
    steadyS: round(steadyS, 2),
    steadyPerS: round(r.first ? (r.stored - r.first.count) / steadyS : NaN, 0),
    stored: r.stored,
    complete: r.stored >= cfg.events,
  };
};

async function benchRecorder(): Promise<Drain & { exitCode: number | null }> {
  const env: Record<string, string> = {
    ...(await serviceDatabase('audit-recorder', SERVER_URL, names.serviceDb)),
    KAFKA_BROKERS: BROKERS.join(','),
    KAFKA_TOPIC: names.topic,
    KAFKA_GROUP_ID: names.serviceGroup,
    AUDIT_LOG_FILE: names.auditLog,
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: cfg.logLevel,
  };
  if (cfg.chunkSize) env['CONSUMER_CHUNK_SIZE'] = String(cfg.chunkSize);
  service = await startRecorder(env, cfg.serviceNodeArgs);
  const svc = service;
  log(
    `audit-recorder ready at ${svc.url} (pid ${svc.pid}) ${round((performance.now() - svc.spawnedAt) / 1000, 2)} s after spawn; draining`,
  );
  const stopCpu = cpuWindow(svc.pid);
  const stopRss = sampleRss(svc.pid);
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, names.serviceDb) });
  await pg.connect();
  try {
    const count = async () =>
      Number((await pg.query<{ n: string }>('select count(*) as n from audit_events')).rows[0].n);
    const result = await waitStored(count, performance.now() + cfg.timeoutMs);
    const cpu = stopCpu();
    const rss = stopRss();
    const hwmMb = round(peakRssMb(svc.pid), 1);
    const exitCode = await svc.stop();
    return {
      ...drainFigures(svc.spawnedAt, result),
      cpuS: round(cpu.processS, 2),
      selfCpuS: round(cpu.selfS, 2),
      machineBusyPct: round(cpu.machineBusy * 100, 1),
      rss: { ...rss, hwmMb },
      exitCode,
    };
  } finally {
    await pg.end();
  }
}

interface Envelope {
  id: string;
  type: string;
  occurred_at: string;
  correlation_id?: string;
  actor: { id: number; name: string; ip_address: string };
  scope: { entity_type: string; entity_id: number; entity_path: string };
  data: { release_id: number; name: string; tag_name: string };
}

/**
 * A kafkajs consumer that maps each fetched batch, links it to its partition's chain and appends it with one
 * statement (support/audit-chain.ts), then commits its offsets.
 */
async function benchBaseline(): Promise<Drain> {
  const admin = new Client({ connectionString: databaseUrl(SERVER_URL, 'postgres') });
  await admin.connect();
  await admin.query(`create database "${names.baselineDb}"`).finally(() => admin.end());
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, names.baselineDb) });
  await pg.connect();
  await pg.query(AUDIT_EVENTS_DDL);
  await ensureMonths(pg, occurred.min, occurred.max);
  const chains = new ChainAppender(pg);
  const consumer = kafka.consumer({ groupId: names.baselineGroup, allowAutoTopicCreation: false });
  let stored = 0;
  let first: { at: number; count: number } | undefined;
  let failure: Error | undefined;
  const stopCpu = cpuWindow(undefined);
  const stopRss = sampleRss(undefined);
  const startedAt = performance.now();
  try {
    await consumer.connect();
    await consumer.subscribe({ topic: names.topic, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
        const cols: unknown[][] = Array.from({ length: 11 }, () => []);
        for (const message of batch.messages) {
          const e = JSON.parse(message.value?.toString() ?? 'null') as Envelope;
          // The recorder's own events (the checkpoint it signs when it stops) share the topic: not the workload.
          if (e.type !== 'ReleaseCreated') continue;
          const eventType = 'release_created';
          const payload = {
            id: uuidv5(`${e.id}/${eventType}`, AUDIT_EVENT_ID_NAMESPACE),
            author_id: e.actor.id,
            entity_id: e.scope.entity_id,
            entity_type: e.scope.entity_type,
            details: {
              author_name: e.actor.name,
              target_id: e.data.release_id,
              target_type: 'Release',
              target_details: e.data.name,
              custom_message: `Created Release ${e.data.tag_name}`,
              ip_address: e.actor.ip_address,
              entity_path: e.scope.entity_path,
              correlation_id: e.correlation_id,
            },
            ip_address: e.actor.ip_address,
            author_name: e.actor.name,
            entity_path: e.scope.entity_path,
            target_details: e.data.name,
            created_at: e.occurred_at,
            target_type: 'Release',
            target_id: e.data.release_id,
            event_type: eventType,
          };
          const row = [
            payload.id,
            eventType,
            payload.author_id,
            payload.author_name,
            payload.entity_type,
            payload.entity_id,
            payload.entity_path,
            'Release',
            payload.target_id,
            payload.created_at,
            JSON.stringify(payload),
          ];
          row.forEach((v, i) => cols[i].push(v));
        }
        if (batch.messages.length === 0) return;
        stored += await chains.append(chainName(batch.topic, batch.partition), cols);
        if (!first) first = { at: performance.now(), count: stored };
        const last = batch.messages[batch.messages.length - 1].offset;
        resolveOffset(last);
        await consumer.commitOffsets([
          { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
        ]);
        await heartbeat();
      },
    });
    consumer.on(consumer.events.CRASH, (e) => (failure = e.payload.error));
    const deadline = startedAt + cfg.timeoutMs;
    while (stored < cfg.events && performance.now() < deadline && !failure) await sleep(20);
    if (failure) throw failure;
    const doneAt = performance.now();
    const cpu = stopCpu();
    const rss = stopRss();
    return {
      ...drainFigures(startedAt, { first, doneAt, stored }),
      cpuS: round(cpu.selfS, 2),
      selfCpuS: round(cpu.selfS, 2),
      machineBusyPct: round(cpu.machineBusy * 100, 1),
      rss: { ...rss, hwmMb: round(peakRssMb(undefined), 1) },
    };
  } finally {
    await consumer.disconnect().catch(() => undefined);
    await pg.end();
  }
}

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.events} events over ${cfg.partitions} partitions, ${cfg.projects} projects, chunk ${cfg.chunkSize ?? 'service default'}, LOG_LEVEL=${cfg.logLevel}`,
  );
  const produced = await preload();
  log(`preloaded ${cfg.events} events in ${produced.seconds} s (${produced.eventsPerS}/s)`);
  const rec = await benchRecorder();
  log(
    `recorder: ${rec.stored} stored in ${rec.endToEndS} s end to end, steady ${rec.steadyPerS}/s (exit ${rec.exitCode})`,
  );
  const base = cfg.baseline === 'none' ? undefined : await benchBaseline();
  if (base) log(`baseline: ${base.stored} stored in ${base.endToEndS} s end to end, steady ${base.steadyPerS}/s`);

  const table = recorderTable(
    [
      {
        metric: 'events stored/s, steady (first row → last)',
        recorder: rec.steadyPerS,
        baseline: base?.steadyPerS,
        digits: 0,
      },
      {
        metric: 'events stored/s, end to end (spawn/connect → last)',
        recorder: rec.endToEndPerS,
        baseline: base?.endToEndPerS,
        digits: 0,
      },
      { metric: 'drain time, end to end (s)', recorder: rec.endToEndS, baseline: base?.endToEndS },
      { metric: 'events stored', recorder: rec.stored, baseline: base?.stored, digits: 0 },
      { metric: 'CPU of the consumer process (s)', recorder: rec.cpuS, baseline: base?.cpuS },
      {
        metric: 'CPU per 1000 events (ms)',
        recorder: (rec.cpuS * 1e6) / rec.stored,
        baseline: base && (base.cpuS * 1e6) / base.stored,
      },
      { metric: 'RSS peak sampled (MB)', recorder: rec.rss.peakMb, baseline: base?.rss.peakMb, digits: 1 },
      { metric: 'RSS high-water VmHWM (MB)', recorder: rec.rss.hwmMb, baseline: base?.rss.hwmMb, digits: 1 },
      {
        metric: 'machine CPU busy (%, 2 cores = 100)',
        recorder: rec.machineBusyPct,
        baseline: base?.machineBusyPct,
        digits: 1,
      },
    ],
    'bare kafkajs + pg baseline',
  );
  const ratio = base ? rec.steadyPerS / base.steadyPerS : NaN;
  const targets: Target[] = [
    { name: 'events stored/s (steady)', goal: '>= 20000', value: rec.steadyPerS, pass: rec.steadyPerS >= 20_000 },
    { name: 'recorder / baseline (steady)', goal: '>= 0.7', value: round(ratio, 2), pass: ratio >= 0.7 },
    { name: 'recorder RSS high-water (MB)', goal: '< 300', value: rec.rss.hwmMb, pass: rec.rss.hwmMb < 300 },
    { name: 'every event stored', goal: `= ${cfg.events}`, value: rec.stored, pass: rec.complete },
  ];
  process.stdout.write(
    `\n${table}\n\n(baseline RSS is the whole bench process, kafkajs consumer and pg client included)\n\nTargets:\n${targetLines(targets)}\n`,
  );

  const results = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: cfg,
    preload: produced,
    recorder: rec,
    baseline: base,
    targets,
  };
  writeResults('recorder', results, [
    {
      name: 'events stored/s, steady',
      value: rec.steadyPerS,
      baseline: base?.steadyPerS,
      goals: [{ goal: '>= 20000' }, { on: 'ratio', goal: '>= 0.7' }],
    },
    { name: 'events stored/s, end to end (boot included)', value: rec.endToEndPerS, baseline: base?.endToEndPerS },
    {
      name: 'CPU per 1000 events (ms)',
      value: (rec.cpuS * 1e6) / rec.stored,
      baseline: base && (base.cpuS * 1e6) / base.stored,
    },
    {
      name: 'RSS high-water (MB; baseline: the bench process)',
      value: rec.rss.hwmMb,
      baseline: base?.rss.hwmMb,
      goals: [{ goal: '< 300' }],
    },
    {
      name: 'events stored',
      value: rec.stored,
      baseline: base?.stored,
      goals: [{ goal: `= ${cfg.events}` }],
      pass: rec.complete,
    },
  ]);
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err: Error) => {
    process.exitCode = 1;
    process.stderr.write(
      `[bench] failed: ${err.stack ?? err.message}\n${service ? `--- audit-recorder log tail ---\n${service.logTail().slice(-4000)}\n` : ''}`,
    );
  })
  .finally(() => cleanup());
