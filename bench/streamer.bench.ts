/**
 * Fan-out benchmark: the built audit-streamer delivers ReleaseCreated audit events from Kafka to 3
 * local keep-alive HTTP receivers (one destination each on one top-level group), beside a bare undici
 * baseline POSTing the same requests to the same receivers, in one run.
 *   npm run bench:streamer
 * Knobs (env): BENCH_EVENTS (100000), BENCH_PARTITIONS (3), BENCH_PROJECTS (30), BENCH_PRODUCE_BATCH (1000),
 * BENCH_STEADY_RATE (1000 events/s) and BENCH_STEADY_S (10) of the latency phase, BENCH_TIMEOUT_S (300, per phase),
 * BENCH_LOG_LEVEL (warn), BENCH_DELIVERY_CONCURRENCY (128) and BENCH_DELIVERY_CONCURRENCY_PER_DESTINATION (32)
 * (the service's DELIVERY_CONCURRENCY*, defaults mirror its own), BENCH_BASELINE (bare|none),
 * BENCH_FAILURE_RUN (1|0), BENCH_SERVICE_NODE_ARGS (extra node flags for the service, e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof"), DATABASE_URL, KAFKA_BROKERS.
 * Figures go to stdout and bench/results/streamer.json. Targets print PASS/MISS; a miss never fails the run.
 *
 * Each scenario (healthy; one receiver answering 500) runs on its own fresh topic, database and
 * streamer process, so both start from the same state (an empty deliveries table, a cold process
 * warmed by the same latency phase) and differ only in the failing receiver:
 *  1. latency phase: BENCH_STEADY_RATE events/s for BENCH_STEADY_S s; Kafka append → receiver at a
 *     load the streamer keeps up with (this is the end-to-end latency);
 *  2. backlog phase: BENCH_EVENTS events produced as fast as possible (batches, acks -1); deliveries/s
 *     from the first to the last arrival (its Kafka → receiver figures are mostly queueing time).
 * The topics use LogAppendTime and every record's append time comes back in the produce response, so
 * latencies are broker append → receiver arrival, both on this machine's clock.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { Kafka, logLevel, Producer } from 'kafkajs';
import { DomainEvent, envelope } from '../libs/contracts/src';
import { auditEventIdFor } from '../libs/audit/mapping/src';
import { releaseCreatedEvent } from '../libs/platform/testing/src/lib/fixtures';
import { dropDatabase } from './support/baseline';
import { cpuWindow, CpuWindow } from './support/cpu';
import { createLogAppendTimeTopic, deleteTopics } from './support/kafka';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { writeResults } from './support/results';
import { round, summarize, Summary, Target, targetLines } from './support/stats';
import { BenchReceiver, combinedPerS, receiverAll, ReceiverPhase, receiverPhase } from './support/streamer-receivers';
import type { SenderConfig, SenderResult } from './support/streamer-sender';
import { serviceDatabase } from './support/service';
import { commandCpuS, RunningStreamer, startStreamer, streamerTable } from './support/streamer-service';

const baselineMode = process.env['BENCH_BASELINE'] ?? 'bare';
if (!['bare', 'none'].includes(baselineMode)) throw new Error('BENCH_BASELINE must be bare or none');
const cfg = {
  events: num('BENCH_EVENTS', 100_000),
  partitions: num('BENCH_PARTITIONS', 3),
  projects: num('BENCH_PROJECTS', 30),
  produceBatch: num('BENCH_PRODUCE_BATCH', 1000),
  steadyRate: num('BENCH_STEADY_RATE', 1000),
  steadyS: num('BENCH_STEADY_S', 10),
  timeoutMs: num('BENCH_TIMEOUT_S', 300) * 1000,
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  deliveryConcurrency: num('BENCH_DELIVERY_CONCURRENCY', 128),
  perDestination: num('BENCH_DELIVERY_CONCURRENCY_PER_DESTINATION', 32),
  serviceNodeArgs: (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
  baseline: baselineMode,
  failureRun: (process.env['BENCH_FAILURE_RUN'] ?? '1') !== '0',
  receivers: 3,
};
/** What the streamer can really have in flight to the 3 receivers: the baseline uses the same. */
const effectiveConcurrency = Math.min(cfg.deliveryConcurrency, cfg.perDestination * cfg.receivers);
const baselineConnections = Math.max(1, Math.floor(effectiveConcurrency / cfg.receivers));
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const groupPath = `bench-${suffix}`;
const ACTOR = { id: 1, name: 'bench', ip_address: '203.0.113.7' };
const STEADY_TICK_MS = 100;

const kafka = new Kafka({ brokers: BROKERS, clientId: 'streamer-bench', logLevel: logLevel.NOTHING });
const receivers: BenchReceiver[] = [];
const services = new Set<RunningStreamer>();
const databases: string[] = [];
const topics: string[] = [];
let sender: ChildProcess | undefined;
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop baseline sender', async () => sender?.exitCode === null && sender.kill('SIGTERM')],
      ['stop services', () => Promise.all([...services].map((s) => s.stop()))],
      ['close receivers', () => Promise.all(receivers.map((r) => r.close()))],
      ['drop databases', () => Promise.all(databases.map((db) => dropDatabase(SERVER_URL, db)))],
      [
        'delete topics',
        () =>
          deleteTopics(
            kafka,
            topics.flatMap((t) => [t, `${t}.dlq`]),
          ),
      ],
    ];
    for (const [name, step] of steps)
      await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
  })();
  return cleaned;
}

const meta = { actor: ACTOR, correlationId: `bench-${suffix}`, now: new Date() };
const projectPath = (projectId: number) => `${groupPath}/p${projectId}`;
const projectOf = (n: number) => (n % cfg.projects) + 1;

/** The group and its projects, as release-service would announce them: the streamer learns namespaces from these. */
function namespaceEvents(): DomainEvent[] {
  const group = envelope(
    'GroupCreated',
    { group_id: 1, path: groupPath, name: 'Bench', full_path: groupPath, parent_id: null },
    { type: 'Group', id: '1', version: 1 },
    { entity_type: 'Group', entity_id: 1, entity_path: groupPath },
    meta,
  );
  const projects = Array.from({ length: cfg.projects }, (_, i) => {
    const id = i + 1;
    return envelope(
      'ProjectCreated',
      { project_id: id, path: `p${id}`, name: `P${id}`, full_path: projectPath(id), namespace_id: 1 },
      { type: 'Project', id: String(id), version: 1 },
      { entity_type: 'Project', entity_id: id, entity_path: projectPath(id) },
      meta,
    );
  });
  return [group, ...projects];
}

interface Prepared {
  partition: number;
  key: string;
  value: string;
  auditId: string;
}

/** Schema-valid ReleaseCreated envelopes (the fixture parses each with its contracts schema) of projects under the group. */
function prepareReleases(from: number, count: number): Prepared[] {
  const out: Prepared[] = [];
  for (let n = from; n < from + count; n++) {
    const projectId = projectOf(n);
    const event = releaseCreatedEvent(n, projectId, projectPath(projectId));
    // Explicit partition (still keyed by project) so each record's append time is known from the produce response.
    out.push({
      partition: projectId % cfg.partitions,
      key: `Project:${projectId}`,
      value: JSON.stringify(event),
      auditId: auditEventIdFor(event.id, 'release_created'),
    });
  }
  return out;
}

/** Sends one batch with acks -1 and notes each record's broker append time (LogAppendTime) under its audit event id. */
async function sendBatch(
  producer: Producer,
  topic: string,
  batch: Prepared[],
  appendedAt: Map<string, number>,
): Promise<void> {
  const metadata = await producer.send({
    topic,
    acks: -1,
    messages: batch.map(({ partition, key, value }) => ({ partition, key, value })),
  });
  const at = new Map(metadata.map((m) => [m.partition, Number(m.logAppendTime)]));
  for (const p of batch) {
    const t = at.get(p.partition);
    if (t === undefined || !(t > 0))
      throw new Error(`no LogAppendTime for partition ${p.partition} in the produce response`);
    appendedAt.set(p.auditId, t);
  }
}

async function createDestinations(service: RunningStreamer): Promise<number[]> {
  const owner = jwt.sign({ sub: '2', name: 'bench-owner', groups: { [groupPath]: 'owner' } }, SECRET, {
    algorithm: 'HS256',
    expiresIn: '2h',
  });
  const ids: number[] = [];
  for (const [i, receiver] of receivers.entries()) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(
        `${service.url}/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` },
          body: JSON.stringify({ destination_url: receiver.url, name: `bench receiver ${i + 1}` }),
        },
      );
      const text = await res.text();
      if (res.status === 201) {
        ids.push((JSON.parse(text) as { id: number }).id);
        break;
      }
      // 404 until the streamer has consumed the GroupCreated event.
      if (res.status !== 404 || Date.now() > deadline)
        throw new Error(`creating destination ${i + 1}: HTTP ${res.status} ${text.slice(0, 300)}`);
      await sleep(200);
    }
  }
  return ids;
}

/** Waits until each receiver in `watch` holds `expected` distinct ids, or the deadline. */
async function waitReceived(watch: BenchReceiver[], expected: number, timeoutMs: number): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    if (watch.every((r) => r.ok.size >= expected)) return true;
    if (performance.now() > deadline) return false;
    await sleep(50);
  }
}

interface CpuFigures {
  serviceS: number;
  benchS: number;
  /** All postgres processes and Kafka's java (another benchmark sharing the machine counts too). */
  postgresS: number;
  kafkaS: number;
  machineBusyPct: number;
}
type Window = CpuWindow & { postgresS: number; kafkaS: number };
/** cpuWindow plus where the rest of the machine's time goes (PostgreSQL, Kafka). */
function cpuWin(pid: number | undefined): () => Window {
  const stop = cpuWindow(pid);
  const pg0 = commandCpuS(['postgres']);
  const kafka0 = commandCpuS(['java']);
  return () => ({ ...stop(), postgresS: commandCpuS(['postgres']) - pg0, kafkaS: commandCpuS(['java']) - kafka0 });
}
const cpuFigures = (c: Window): CpuFigures => ({
  serviceS: round(c.processS, 2),
  benchS: round(c.selfS, 2),
  postgresS: round(c.postgresS, 2),
  kafkaS: round(c.kafkaS, 2),
  machineBusyPct: round(c.machineBusy * 100, 1),
});
const roundSummary = (s: Summary) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 2)])) as unknown as Summary;

interface PhaseResult {
  events: number;
  produceS: number;
  complete: boolean;
  receivers: ReceiverPhase[];
  /** All 2xx at the receivers that should succeed, first → last arrival among them. */
  delivered: { total2xx: number; seconds: number; perS: number };
  kafkaToReceiverMs: Summary;
  cpu: CpuFigures;
}

function phaseResult(
  events: number,
  produceS: number,
  complete: boolean,
  appendedAt: Map<string, number>,
  healthy: BenchReceiver[],
  cpu: Window,
): PhaseResult {
  const latencies: number[] = [];
  const phases = receivers.map((r) => receiverPhase(r, appendedAt, healthy.includes(r) ? latencies : undefined));
  const delivered = combinedPerS(phases.filter((p) => healthy.some((r) => r.name === p.name)));
  return {
    events,
    produceS: round(produceS, 2),
    complete,
    receivers: phases.map((p) => ({
      ...p,
      perS: round(p.perS, 0),
      firstAt: round(p.firstAt, 1),
      lastAt: round(p.lastAt, 1),
    })),
    delivered: { total2xx: delivered.total2xx, seconds: round(delivered.seconds, 2), perS: round(delivered.perS, 0) },
    kafkaToReceiverMs: roundSummary(summarize(latencies)),
    cpu: cpuFigures(cpu),
  };
}

interface ScenarioResult {
  label: string;
  failingReceiver: string | null;
  bootS: number;
  steady: PhaseResult;
  backlog: PhaseResult;
  /** 500s the failing receiver answered (retries and probes included). */
  failedRequests: number;
  otherRequests: number;
  exitCode: number | null;
}

async function scenario(label: 'healthy' | 'one-failing', failing: number | undefined): Promise<ScenarioResult> {
  const topic = `bench-streamer-${label}-${suffix}`;
  const db = `bench_streamer_${label.replace('-', '_')}_${suffix}`;
  topics.push(topic);
  databases.push(db);
  receivers.forEach((r, i) => r.reset(i === failing));
  const healthy = receivers.filter((_, i) => i !== failing);
  await createLogAppendTimeTopic(kafka, topic, cfg.partitions);
  const env: Record<string, string> = {
    ...(await serviceDatabase('audit-streamer', SERVER_URL, db)),
    KAFKA_BROKERS: BROKERS.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_GROUP_ID: `bench-streamer-${label}-${suffix}`,
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: cfg.logLevel,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STREAMING_ALLOW_HTTP: 'true',
    STREAMING_ALLOWED_HOSTS: '127.0.0.1',
    DELIVERY_CONCURRENCY: String(cfg.deliveryConcurrency),
    DELIVERY_CONCURRENCY_PER_DESTINATION: String(cfg.perDestination),
  };
  const service = await startStreamer(env, cfg.serviceNodeArgs);
  services.add(service);
  const bootS = round((performance.now() - service.spawnedAt) / 1000, 2);
  log(
    `[${label}] audit-streamer ready at ${service.url} (pid ${service.pid}) ${bootS} s after spawn${failing === undefined ? '' : `; ${receivers[failing].name} answers 500`}`,
  );
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  try {
    await producer.send({
      topic,
      acks: -1,
      messages: namespaceEvents().map((e) => ({
        key: `${e.scope.entity_type}:${e.scope.entity_id}`,
        value: JSON.stringify(e),
      })),
    });
    const destinationIds = await createDestinations(service);
    log(`[${label}] destinations ${destinationIds.join(', ')} created on ${groupPath}`);

    // 1. Latency phase: a fixed rate the streamer keeps up with.
    const steadyCount = cfg.steadyRate * cfg.steadyS;
    const perTick = Math.max(1, Math.round((cfg.steadyRate * STEADY_TICK_MS) / 1000));
    const steadyEvents = prepareReleases(1, steadyCount);
    const steadyAppended = new Map<string, number>();
    let stopCpu = cpuWin(service.pid);
    let t0 = performance.now();
    for (let i = 0, tick = 0; i < steadyEvents.length; i += perTick, tick++) {
      const wait = t0 + tick * STEADY_TICK_MS - performance.now();
      if (wait > 0) await sleep(wait);
      await sendBatch(producer, topic, steadyEvents.slice(i, i + perTick), steadyAppended);
    }
    let produceS = (performance.now() - t0) / 1000;
    let complete = await waitReceived(healthy, steadyCount, cfg.timeoutMs);
    const steady = phaseResult(steadyCount, produceS, complete, steadyAppended, healthy, stopCpu());
    log(
      `[${label}] latency phase: ${steadyCount} events at ${cfg.steadyRate}/s, Kafka→receiver p50 ${steady.kafkaToReceiverMs.p50} ms, p99 ${steady.kafkaToReceiverMs.p99} ms (machine ${steady.cpu.machineBusyPct}% busy)${complete ? '' : ' INCOMPLETE'}`,
    );

    // 2. Backlog phase: everything as fast as the producer goes.
    const backlogEvents = prepareReleases(1_000_001, cfg.events);
    const backlogAppended = new Map<string, number>();
    await sleep(500);
    stopCpu = cpuWin(service.pid);
    t0 = performance.now();
    for (let i = 0; i < backlogEvents.length; i += cfg.produceBatch)
      await sendBatch(producer, topic, backlogEvents.slice(i, i + cfg.produceBatch), backlogAppended);
    produceS = (performance.now() - t0) / 1000;
    log(`[${label}] produced ${cfg.events} events in ${round(produceS, 2)} s; waiting for ${healthy.length} receivers`);
    complete = await waitReceived(healthy, steadyCount + cfg.events, cfg.timeoutMs);
    const backlog = phaseResult(cfg.events, produceS, complete, backlogAppended, healthy, stopCpu());
    log(
      `[${label}] backlog phase: ${backlog.delivered.total2xx} deliveries in ${backlog.delivered.seconds} s = ${backlog.delivered.perS}/s (machine ${backlog.cpu.machineBusyPct}% busy)${complete ? '' : ' INCOMPLETE'}`,
    );
    // Late duplicates would show up here rather than be missed.
    await sleep(1000);
    const exitCode = await service.stop();
    services.delete(service);
    const failedRequests = failing === undefined ? 0 : receivers[failing].failed;
    return {
      label,
      failingReceiver: failing === undefined ? null : receivers[failing].name,
      bootS,
      steady: { ...steady, receivers: receivers.map((r) => receiverPhase(r, steadyAppended)) },
      backlog: {
        ...backlog,
        receivers: receivers.map((r) => ({
          ...receiverPhase(r, backlogAppended),
          perS: round(receiverPhase(r, backlogAppended).perS, 0),
        })),
      },
      failedRequests,
      otherRequests: receivers.reduce((a, r) => a + r.other, 0),
      exitCode,
    };
  } finally {
    await producer.disconnect();
  }
}

interface BaselineResult {
  sender: SenderResult;
  receivers: ReceiverPhase[];
  delivered: { total2xx: number; seconds: number; perS: number };
  cpu: CpuFigures;
}

/** The bare undici sender as its own process, at the streamer's effective concurrency, to the same receivers. */
async function benchBaseline(): Promise<BaselineResult> {
  receivers.forEach((r) => r.reset(false));
  const config: SenderConfig = {
    urls: receivers.map((r) => r.url),
    perReceiver: cfg.events,
    connections: baselineConnections,
    groupPath,
    projects: cfg.projects,
  };
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, 'support', 'streamer-sender.ts')],
    {
      cwd: join(__dirname, '..'),
      env: { ...process.env, BENCH_SENDER_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  sender = child;
  let out = '';
  let err = '';
  let stopCpu: (() => Window) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!stopCpu && out.includes('start\n')) stopCpu = cpuWin(child.pid);
  });
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  const cpu = stopCpu?.();
  if (code !== 0 || !cpu) throw new Error(`baseline sender exited with ${code}: ${err}`);
  const result = JSON.parse(out.trim().split('\n').pop() ?? '') as SenderResult;
  const phases = receivers.map(receiverAll);
  const delivered = combinedPerS(phases);
  return {
    sender: { ...result, elapsedS: round(result.elapsedS, 2), cpuS: round(result.cpuS, 2) },
    receivers: phases.map((p) => ({ ...p, perS: round(p.perS, 0) })),
    delivered: { total2xx: delivered.total2xx, seconds: round(delivered.seconds, 2), perS: round(delivered.perS, 0) },
    // serviceS: the sender process, as it measured itself (its /proc entry is gone once it exited); benchS: this process (the receivers).
    cpu: { ...cpuFigures(cpu), serviceS: round(result.cpuS, 2) },
  };
}

const perThousand = (cpuS: number, deliveries: number) => (deliveries > 0 ? (cpuS * 1e6) / deliveries : NaN);
const sumMissing = (r: ReceiverPhase[], names: string[]) =>
  r.filter((p) => names.includes(p.name)).reduce((a, p) => a + p.missing, 0);
const sumDuplicates = (r: ReceiverPhase[], names: string[]) =>
  r.filter((p) => names.includes(p.name)).reduce((a, p) => a + p.duplicates, 0);

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.events} events × ${cfg.receivers} receivers, ${cfg.partitions} partitions, ${cfg.projects} projects, DELIVERY_CONCURRENCY ${cfg.deliveryConcurrency} / ${cfg.perDestination} per destination (effective ${effectiveConcurrency}), LOG_LEVEL=${cfg.logLevel}`,
  );
  for (let i = 0; i < cfg.receivers; i++) receivers.push(await BenchReceiver.start(`receiver-${i + 1}`));

  const ok = await scenario('healthy', undefined);
  const base = cfg.baseline === 'none' ? undefined : await benchBaseline();
  if (base)
    log(
      `baseline: ${base.delivered.total2xx} deliveries in ${base.delivered.seconds} s = ${base.delivered.perS}/s (machine ${base.cpu.machineBusyPct}% busy)`,
    );
  const failingIndex = cfg.receivers - 1;
  const bad = cfg.failureRun ? await scenario('one-failing', failingIndex) : undefined;

  const allNames = receivers.map((r) => r.name);
  const healthyNames = allNames.filter((_, i) => i !== failingIndex);
  // The two receivers that stay healthy, in the healthy run: the reference of the failure run.
  const okTwo = combinedPerS(ok.backlog.receivers.filter((p) => healthyNames.includes(p.name)));
  const badTwo = bad?.backlog.delivered;
  const keepRatio = badTwo ? badTwo.perS / okTwo.perS : NaN;
  const baseRatio = base ? ok.backlog.delivered.perS / base.delivered.perS : NaN;
  const okBusy = ok.backlog.cpu.machineBusyPct;
  const steadyBusy = ok.steady.cpu.machineBusyPct;

  const table = streamerTable(
    [
      {
        metric: 'deliveries/s, backlog (2xx at 3 receivers, first → last arrival)',
        streamer: ok.backlog.delivered.perS,
        baseline: base?.delivered.perS,
        busyPct: okBusy,
        baselineBusyPct: base?.cpu.machineBusyPct,
        digits: 0,
      },
      ...receivers.map((r, i) => ({
        metric: `deliveries/s at ${r.name}`,
        streamer: ok.backlog.receivers[i].perS,
        baseline: base?.receivers[i].perS,
        busyPct: okBusy,
        baselineBusyPct: base?.cpu.machineBusyPct,
        digits: 0,
      })),
      {
        metric: 'deliveries (2xx)',
        streamer: ok.backlog.delivered.total2xx,
        baseline: base?.delivered.total2xx,
        digits: 0,
      },
      {
        metric: 'duplicates (2xx beyond the first, all receivers)',
        streamer: sumDuplicates(ok.backlog.receivers, allNames),
        baseline: base && base.receivers.reduce((a, p) => a + p.duplicates, 0),
        digits: 0,
      },
      {
        metric: 'missing (events × receivers without a 2xx)',
        streamer: sumMissing(ok.backlog.receivers, allNames),
        baseline: base && base.sender.sent - base.sender.ok,
        digits: 0,
      },
      {
        metric: 'Kafka → receiver p50, backlog phase (queueing, ms)',
        streamer: ok.backlog.kafkaToReceiverMs.p50,
        baseline: undefined,
        busyPct: okBusy,
        digits: 0,
      },
      {
        metric: 'Kafka → receiver p99, backlog phase (queueing, ms)',
        streamer: ok.backlog.kafkaToReceiverMs.p99,
        baseline: undefined,
        busyPct: okBusy,
        digits: 0,
      },
      ...(['p50', 'p95', 'p99', 'max'] as const).map((p) => ({
        metric: `Kafka → receiver ${p}, ${cfg.steadyRate} events/s (ms)`,
        streamer: ok.steady.kafkaToReceiverMs[p],
        baseline: undefined,
        busyPct: steadyBusy,
      })),
      {
        metric: 'sender CPU per 1000 deliveries (ms: streamer process / bare sender)',
        streamer: perThousand(ok.backlog.cpu.serviceS, ok.backlog.delivered.total2xx),
        baseline: base && perThousand(base.sender.cpuS, base.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: base?.cpu.machineBusyPct,
      },
      {
        metric: 'bench process CPU per 1000 deliveries (ms: receivers, + producer for the streamer)',
        streamer: perThousand(ok.backlog.cpu.benchS, ok.backlog.delivered.total2xx),
        baseline: base && perThousand(base.cpu.benchS, base.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: base?.cpu.machineBusyPct,
      },
      {
        metric: 'PostgreSQL CPU per 1000 deliveries (ms, all postgres processes)',
        streamer: perThousand(ok.backlog.cpu.postgresS, ok.backlog.delivered.total2xx),
        baseline: base && perThousand(base.cpu.postgresS, base.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: base?.cpu.machineBusyPct,
      },
      {
        metric: 'Kafka broker CPU per 1000 deliveries (ms)',
        streamer: perThousand(ok.backlog.cpu.kafkaS, ok.backlog.delivered.total2xx),
        baseline: base && perThousand(base.cpu.kafkaS, base.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: base?.cpu.machineBusyPct,
      },
      {
        metric: 'machine CPU busy (%, 2 cores = 100)',
        streamer: okBusy,
        baseline: base?.cpu.machineBusyPct,
        digits: 1,
      },
    ],
    'audit-streamer',
    'bare undici baseline',
  );
  const failureTable =
    bad &&
    streamerTable(
      [
        {
          metric: `deliveries/s at ${healthyNames.join(' + ')}, backlog`,
          streamer: badTwo?.perS,
          baseline: okTwo.perS,
          busyPct: bad.backlog.cpu.machineBusyPct,
          baselineBusyPct: okBusy,
          digits: 0,
        },
        ...healthyNames.map((name) => ({
          metric: `deliveries/s at ${name}`,
          streamer: bad.backlog.receivers.find((p) => p.name === name)?.perS,
          baseline: ok.backlog.receivers.find((p) => p.name === name)?.perS,
          busyPct: bad.backlog.cpu.machineBusyPct,
          baselineBusyPct: okBusy,
          digits: 0,
        })),
        {
          metric: `missing at ${healthyNames.join(' + ')}`,
          streamer: sumMissing(bad.backlog.receivers, healthyNames),
          baseline: sumMissing(ok.backlog.receivers, healthyNames),
          digits: 0,
        },
        {
          metric: `duplicates at ${healthyNames.join(' + ')}`,
          streamer: sumDuplicates(bad.backlog.receivers, healthyNames),
          baseline: sumDuplicates(ok.backlog.receivers, healthyNames),
          digits: 0,
        },
        ...(['p50', 'p99'] as const).map((p) => ({
          metric: `Kafka → receiver ${p}, ${cfg.steadyRate} events/s (ms; ${healthyNames.join(' + ')})`,
          streamer: bad.steady.kafkaToReceiverMs[p],
          baseline: ok.steady.kafkaToReceiverMs[p],
          busyPct: bad.steady.cpu.machineBusyPct,
          baselineBusyPct: steadyBusy,
        })),
        {
          metric: `500s answered by ${bad.failingReceiver} (attempts incl. retries/probes)`,
          streamer: bad.failedRequests,
          baseline: 0,
          digits: 0,
        },
        {
          metric: 'streamer CPU per 1000 healthy deliveries (ms)',
          streamer: perThousand(bad.backlog.cpu.serviceS, bad.backlog.delivered.total2xx),
          baseline: perThousand(ok.backlog.cpu.serviceS, ok.backlog.delivered.total2xx),
          busyPct: bad.backlog.cpu.machineBusyPct,
          baselineBusyPct: okBusy,
        },
      ],
      `${bad.failingReceiver} failing`,
      'healthy run',
    );
  const targets: Target[] = [
    {
      name: `deliveries/s, backlog (machine ${okBusy}% busy)`,
      goal: '>= 5000',
      value: ok.backlog.delivered.perS,
      pass: ok.backlog.delivered.perS >= 5000,
    },
    {
      name: `streamer / bare baseline (machine ${okBusy}% / ${base?.cpu.machineBusyPct ?? '—'}% busy)`,
      goal: '>= 0.6',
      value: round(baseRatio, 2),
      pass: baseRatio >= 0.6,
    },
    ...(bad
      ? [
          {
            name: `healthy receivers' throughput with one failing / healthy run (machine ${bad.backlog.cpu.machineBusyPct}% / ${okBusy}% busy)`,
            goal: '>= 0.9',
            value: round(keepRatio, 2),
            pass: keepRatio >= 0.9,
          },
        ]
      : []),
    {
      name: 'every event at every receiver (healthy run)',
      goal: '= 0 missing',
      value: sumMissing(ok.backlog.receivers, allNames) + sumMissing(ok.steady.receivers, allNames),
      pass:
        ok.backlog.complete &&
        ok.steady.complete &&
        sumMissing(ok.backlog.receivers, allNames) + sumMissing(ok.steady.receivers, allNames) === 0,
    },
    ...(bad
      ? [
          {
            name: 'every event at the healthy receivers (failure run)',
            goal: '= 0 missing',
            value: sumMissing(bad.backlog.receivers, healthyNames) + sumMissing(bad.steady.receivers, healthyNames),
            pass:
              bad.backlog.complete &&
              bad.steady.complete &&
              sumMissing(bad.backlog.receivers, healthyNames) + sumMissing(bad.steady.receivers, healthyNames) === 0,
          },
        ]
      : []),
  ];
  process.stdout.write(
    `\n${table}\n\n${failureTable ? `One of three receivers answering 500 to everything (fresh topic, database and streamer; same phases):\n\n${failureTable}\n\n` : ''}`,
  );
  process.stdout.write(
    `Busy %: the whole machine (2 cores = 100) while that figure was measured; another benchmark may share the machine (before the run: ${busyBeforePct}%).\n`,
  );
  process.stdout.write(
    `Baseline: ${baselineConnections} keep-alive connections per receiver (${baselineConnections * cfg.receivers} in flight, the streamer's effective min(DELIVERY_CONCURRENCY, per-destination × 3)), sender in its own process.\n\nTargets:\n${targetLines(targets)}\n`,
  );

  const results = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: { ...cfg, effectiveConcurrency, baselineConnections },
    healthy: ok,
    baseline: base,
    oneFailing: bad,
    failureComparison: bad && {
      healthyRunTwoReceiversPerS: round(okTwo.perS, 0),
      failureRunTwoReceiversPerS: badTwo?.perS,
      ratio: round(keepRatio, 3),
    },
    targets,
  };
  const missing = (run: typeof ok, names: string[]) =>
    sumMissing(run.backlog.receivers, names) + sumMissing(run.steady.receivers, names);
  writeResults('streamer', results, [
    {
      name: 'deliveries/s, backlog (3 receivers)',
      value: ok.backlog.delivered.perS,
      baseline: base?.delivered.perS,
      goals: [{ goal: '>= 5000' }, { on: 'ratio', goal: '>= 0.6' }],
    },
    ...(bad
      ? [
          {
            name: `deliveries/s at the ${healthyNames.length} healthy receivers, one failing (baseline: the healthy run)`,
            value: badTwo?.perS,
            baseline: okTwo.perS,
            goals: [{ on: 'ratio' as const, goal: '>= 0.9' }],
          },
        ]
      : []),
    ...(['p50', 'p95', 'p99'] as const).map((p) => ({
      name: `Kafka → receiver ${p} at ${cfg.steadyRate} events/s (ms)`,
      value: ok.steady.kafkaToReceiverMs[p],
    })),
    {
      name: 'missing deliveries, healthy run',
      value: missing(ok, allNames),
      goals: [{ goal: '= 0' }],
      pass: ok.backlog.complete && ok.steady.complete && missing(ok, allNames) === 0,
    },
    ...(bad
      ? [
          {
            name: 'missing deliveries at the healthy receivers, failure run',
            value: missing(bad, healthyNames),
            goals: [{ goal: '= 0' }],
            pass: bad.backlog.complete && bad.steady.complete && missing(bad, healthyNames) === 0,
          },
        ]
      : []),
  ]);
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err: Error) => {
    process.exitCode = 1;
    const tails = [...services].map((s) => `--- audit-streamer log tail ---\n${s.logTail().slice(-4000)}\n`).join('');
    process.stderr.write(`[bench] failed: ${err.stack ?? err.message}\n${tails}`);
  })
  .finally(() => cleanup());
