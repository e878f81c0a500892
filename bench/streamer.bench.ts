/**
 * Fan-out benchmark: the built audit-streamer delivers ReleaseCreated audit events from Kafka to 3
 * local keep-alive HTTP receivers (one destination each on one top-level group), beside, in one run:
 *  - the durable baseline (support/streamer-durable.ts): bare code consuming the same messages,
 *    inserting one delivery row per (event, destination) into a scratch database, committing offsets,
 *    POSTing with undici and recording each outcome on its row; the streamer's ratio is judged against it;
 *  - the bare loops (support/streamer-sender.ts): the same requests POSTed in a tight loop, no Kafka, no
 *    database, once with undici (the streamer's client) and once with axios (same keep-alive, guarded DNS
 *    lookup, timeouts, payload and headers), so the choice of client rests on figures from the same run.
 *   npm run bench:streamer
 *   BENCH_BASELINES_ONLY=1 BENCH_EVENTS=2000 node -r @swc-node/register bench/streamer.bench.ts   (no build, no streamer)
 * Knobs (env): BENCH_EVENTS (100000), BENCH_PARTITIONS (3), BENCH_PROJECTS (30), BENCH_PRODUCE_BATCH (1000),
 * BENCH_STEADY_RATE (1000 events/s) and BENCH_STEADY_S (10) of the latency phase, BENCH_TIMEOUT_S (300, per phase),
 * BENCH_LOG_LEVEL (warn), BENCH_DELIVERY_CONCURRENCY (128) and BENCH_DELIVERY_CONCURRENCY_PER_DESTINATION (32)
 * (the service's DELIVERY_CONCURRENCY*, defaults mirror its own), BENCH_BASELINE (none, or a comma-separated
 * subset of durable,undici,axios; default and `bare`: all three), BENCH_BASELINES_ONLY (1: the baselines
 * alone, no streamer, no build needed; a smoke test), BENCH_FAILURE_RUN (1|0), BENCH_SERVICE_NODE_ARGS (extra node flags for the service, e.g.
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
import { databaseUrl, dropDatabase } from './support/baseline';
import { cpuWindow, CpuWindow } from './support/cpu';
import { createLogAppendTimeTopic, deleteTopics } from './support/kafka';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { writeResults } from './support/results';
import { round, summarize, Summary, Target, targetLines } from './support/stats';
import { BenchReceiver, combinedPerS, receiverAll, ReceiverPhase, receiverPhase } from './support/streamer-receivers';
import type { SenderConfig, SenderResult } from './support/streamer-sender';
import type { SenderClient } from './support/streamer-http';
import { createDurableDatabase, durableCounts, DurableConfig, DurableResult } from './support/streamer-durable';
import { serviceDatabase } from './support/service';
import { commandCpuS, RunningStreamer, startStreamer, streamerTable } from './support/streamer-service';

const BASELINES = ['durable', 'undici', 'axios'] as const;
type BaselineName = (typeof BASELINES)[number];
const baselineMode = (process.env['BENCH_BASELINE'] ?? '').trim() || 'bare';
const baselines: BaselineName[] =
  baselineMode === 'none'
    ? []
    : baselineMode === 'bare'
      ? [...BASELINES]
      : baselineMode.split(',').map((b) => {
          const name = b.trim() as BaselineName;
          if (!BASELINES.includes(name))
            throw new Error(`BENCH_BASELINE must be none, bare or a subset of ${BASELINES.join(',')}: ${b}`);
          return name;
        });
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
  baselines,
  baselinesOnly: process.env['BENCH_BASELINES_ONLY'] === '1',
  failureRun: (process.env['BENCH_FAILURE_RUN'] ?? '1') !== '0',
  receivers: 3,
};
/** What the streamer can really have in flight to the 3 receivers: the baseline uses the same. */
const effectiveConcurrency = Math.min(cfg.deliveryConcurrency, cfg.perDestination * cfg.receivers);
const baselineConnections = Math.max(1, Math.floor(effectiveConcurrency / cfg.receivers));
/** The streamer's DELIVERY_TIMEOUT_MS (the bench leaves its default) and STREAMING_ALLOWED_HOSTS: the baselines' clients use the same. */
const DELIVERY_TIMEOUT_MS = 10_000;
const ALLOWED_HOSTS = ['127.0.0.1'];
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
const children = new Set<ChildProcess>();
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      [
        'stop baseline processes',
        async () => [...children].forEach((c) => c.exitCode === null && c.signalCode === null && c.kill('SIGTERM')),
      ],
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

interface Phases {
  steady: PhaseResult;
  backlog: PhaseResult;
  steadyAppended: Map<string, number>;
  backlogAppended: Map<string, number>;
}

/**
 * The two phases of a run, the streamer's or the durable baseline's (`pid`: the process whose CPU is
 * measured): 1. latency phase, BENCH_STEADY_RATE events/s for BENCH_STEADY_S s; 2. backlog phase,
 * BENCH_EVENTS events produced as fast as possible. Each waits until `healthy` hold every event.
 */
async function runPhases(
  label: string,
  topic: string,
  producer: Producer,
  healthy: BenchReceiver[],
  pid: number | undefined,
): Promise<Phases> {
  // 1. Latency phase: a fixed rate the streamer keeps up with.
  const steadyCount = cfg.steadyRate * cfg.steadyS;
  const perTick = Math.max(1, Math.round((cfg.steadyRate * STEADY_TICK_MS) / 1000));
  const steadyEvents = prepareReleases(1, steadyCount);
  const steadyAppended = new Map<string, number>();
  let stopCpu = cpuWin(pid);
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
  stopCpu = cpuWin(pid);
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
  return { steady, backlog, steadyAppended, backlogAppended };
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
    STREAMING_ALLOWED_HOSTS: ALLOWED_HOSTS.join(','),
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

    const { steady, backlog, steadyAppended, backlogAppended } = await runPhases(
      label,
      topic,
      producer,
      healthy,
      service.pid,
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

/** A bare loop (undici or axios) as its own process, at the streamer's effective concurrency, to the same receivers. */
async function benchBareLoop(client: SenderClient): Promise<BaselineResult> {
  receivers.forEach((r) => r.reset(false));
  const config: SenderConfig = {
    client,
    urls: receivers.map((r) => r.url),
    perReceiver: cfg.events,
    connections: baselineConnections,
    groupPath,
    projects: cfg.projects,
    timeoutMs: DELIVERY_TIMEOUT_MS,
    allowedHosts: ALLOWED_HOSTS,
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
  children.add(child);
  let out = '';
  let err = '';
  let stopCpu: (() => Window) | undefined;
  child.stdout.on('data', (d: Buffer) => {
    out += d.toString();
    if (!stopCpu && out.includes('start\n')) stopCpu = cpuWin(child.pid);
  });
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  children.delete(child);
  const cpu = stopCpu?.();
  if (code !== 0 || !cpu) throw new Error(`bare loop (${client}) exited with ${code}: ${err}`);
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

interface DurableRunResult {
  steady: PhaseResult;
  backlog: PhaseResult;
  process: DurableResult;
  /** Rows per status in its table after it stopped, and their attempts. */
  rows: Record<string, number>;
  /** Deliveries expected: (latency + backlog events) × receivers. */
  expected: number;
}

/**
 * The durable baseline as its own process (support/streamer-durable.ts) on a fresh topic and scratch
 * database, through the same two phases as the streamer (so it is warmed the same way and its latency
 * phase gives Kafka → receiver figures beside the streamer's).
 */
async function benchDurable(): Promise<DurableRunResult> {
  const label = 'durable';
  const topic = `bench-streamer-durable-${suffix}`;
  const db = `bench_streamer_durable_${suffix}`;
  topics.push(topic);
  databases.push(db);
  receivers.forEach((r) => r.reset(false));
  await createLogAppendTimeTopic(kafka, topic, cfg.partitions);
  await createDurableDatabase(SERVER_URL, db);
  const url = databaseUrl(SERVER_URL, db);
  const config: DurableConfig = {
    brokers: BROKERS,
    topic,
    groupId: `bench-streamer-durable-${suffix}`,
    databaseUrl: url,
    destinations: receivers.map((r, i) => ({ id: i + 1, url: r.url })),
    partitions: cfg.partitions,
    queueLimit: cfg.deliveryConcurrency * 8,
    connections: baselineConnections,
    timeoutMs: DELIVERY_TIMEOUT_MS,
    allowedHosts: ALLOWED_HOSTS,
  };
  const child = spawn(
    process.execPath,
    ['-r', '@swc-node/register', join(__dirname, 'support', 'streamer-durable.ts')],
    {
      cwd: join(__dirname, '..'),
      env: { ...process.env, BENCH_DURABLE_CONFIG: JSON.stringify(config) },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  children.add(child);
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const ready = new Promise<void>((resolve) =>
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    }),
  );
  const spawnedAt = performance.now();
  await Promise.race([
    ready,
    exited.then((code) => {
      throw new Error(`durable baseline exited with ${code} before joining its group: ${err}`);
    }),
    sleep(60_000).then(() => {
      throw new Error(`durable baseline not ready within 60 s: ${err}`);
    }),
  ]);
  log(
    `[${label}] durable baseline ready (pid ${child.pid}) ${round((performance.now() - spawnedAt) / 1000, 2)} s after spawn`,
  );
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  let phases: Phases;
  try {
    phases = await runPhases(label, topic, producer, receivers, child.pid);
  } finally {
    await producer.disconnect();
  }
  await sleep(1000);
  child.kill('SIGTERM');
  const code = await exited;
  children.delete(child);
  if (code !== 0) throw new Error(`durable baseline exited with ${code}: ${err}`);
  const result = JSON.parse(out.trim().split('\n').pop() ?? '') as DurableResult;
  const rows = await durableCounts(url);
  const { steady, backlog, steadyAppended, backlogAppended } = phases;
  return {
    steady: { ...steady, receivers: receivers.map((r) => receiverPhase(r, steadyAppended)) },
    backlog: {
      ...backlog,
      receivers: receivers.map((r) => {
        const p = receiverPhase(r, backlogAppended);
        return { ...p, perS: round(p.perS, 0) };
      }),
    },
    process: { ...result, elapsedS: round(result.elapsedS, 2), cpuS: round(result.cpuS, 2) },
    rows,
    expected: (steadyAppended.size + backlogAppended.size) * receivers.length,
  };
}

const perThousand = (cpuS: number, deliveries: number) => (deliveries > 0 ? (cpuS * 1e6) / deliveries : NaN);
const sumMissing = (r: ReceiverPhase[], names: string[]) =>
  r.filter((p) => names.includes(p.name)).reduce((a, p) => a + p.missing, 0);
const sumDuplicates = (r: ReceiverPhase[], names: string[]) =>
  r.filter((p) => names.includes(p.name)).reduce((a, p) => a + p.duplicates, 0);

const sumRows = (r: ReceiverPhase[] | undefined, names: string[], field: 'missing' | 'duplicates') =>
  r && r.filter((p) => names.includes(p.name)).reduce((a, p) => a + p[field], 0);
const ratioOf = (value: number | undefined, baseline: number | undefined) =>
  value !== undefined && baseline !== undefined && baseline > 0 ? value / baseline : NaN;
/** The streamer's ratio target against the durable baseline (bench/README.md says why this figure). */
const DURABLE_RATIO_GOAL = 0.7;

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.events} events × ${cfg.receivers} receivers, ${cfg.partitions} partitions, ${cfg.projects} projects, DELIVERY_CONCURRENCY ${cfg.deliveryConcurrency} / ${cfg.perDestination} per destination (effective ${effectiveConcurrency}), LOG_LEVEL=${cfg.logLevel}, baselines ${cfg.baselines.join(', ') || 'none'}${cfg.baselinesOnly ? ' (baselines only: no streamer)' : ''}`,
  );
  for (let i = 0; i < cfg.receivers; i++) receivers.push(await BenchReceiver.start(`receiver-${i + 1}`));

  const ok = cfg.baselinesOnly ? undefined : await scenario('healthy', undefined);
  const durable = cfg.baselines.includes('durable') ? await benchDurable() : undefined;
  if (durable)
    log(
      `durable baseline: ${durable.backlog.delivered.total2xx} deliveries in ${durable.backlog.delivered.seconds} s = ${durable.backlog.delivered.perS}/s (machine ${durable.backlog.cpu.machineBusyPct}% busy); rows ${JSON.stringify(durable.rows)} of ${durable.expected}`,
    );
  const bare: Partial<Record<SenderClient, BaselineResult>> = {};
  for (const client of ['undici', 'axios'] as const) {
    if (!cfg.baselines.includes(client)) continue;
    const b = await benchBareLoop(client);
    bare[client] = b;
    log(
      `bare loop with ${client}: ${b.delivered.total2xx} deliveries in ${b.delivered.seconds} s = ${b.delivered.perS}/s (machine ${b.cpu.machineBusyPct}% busy)${b.sender.errors ? `, ${b.sender.errors} errors: ${b.sender.errorSamples.join('; ')}` : ''}`,
    );
  }
  const { undici, axios } = bare;
  const failingIndex = cfg.receivers - 1;
  const bad = cfg.failureRun && !cfg.baselinesOnly ? await scenario('one-failing', failingIndex) : undefined;

  const allNames = receivers.map((r) => r.name);
  const healthyNames = allNames.filter((_, i) => i !== failingIndex);
  // The two receivers that stay healthy, in the healthy run: the reference of the failure run.
  const okTwo = ok && combinedPerS(ok.backlog.receivers.filter((p) => healthyNames.includes(p.name)));
  const badTwo = bad?.backlog.delivered;
  const keepRatio = ratioOf(badTwo?.perS, okTwo?.perS);
  const durableRatio = ratioOf(ok?.backlog.delivered.perS, durable?.backlog.delivered.perS);
  const okBusy = ok?.backlog.cpu.machineBusyPct;
  const steadyBusy = ok?.steady.cpu.machineBusyPct;
  const durableBusy = durable?.backlog.cpu.machineBusyPct;
  const durableMissing = durable && durable.expected - durable.rows['delivered'];

  const table = streamerTable(
    [
      {
        metric: 'deliveries/s, backlog (2xx at 3 receivers, first → last arrival)',
        streamer: ok?.backlog.delivered.perS,
        baseline: durable?.backlog.delivered.perS,
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
        digits: 0,
      },
      ...receivers.map((r, i) => ({
        metric: `deliveries/s at ${r.name}`,
        streamer: ok?.backlog.receivers[i].perS,
        baseline: durable?.backlog.receivers[i].perS,
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
        digits: 0,
      })),
      {
        metric: 'deliveries/s, backlog, against the bare loop with undici (no Kafka, no database)',
        streamer: ok?.backlog.delivered.perS,
        baseline: undici?.delivered.perS,
        busyPct: okBusy,
        baselineBusyPct: undici?.cpu.machineBusyPct,
        digits: 0,
      },
      {
        metric: 'deliveries (2xx)',
        streamer: ok?.backlog.delivered.total2xx,
        baseline: durable?.backlog.delivered.total2xx,
        digits: 0,
      },
      {
        metric: 'duplicates (2xx beyond the first, all receivers)',
        streamer: sumRows(ok?.backlog.receivers, allNames, 'duplicates'),
        baseline: sumRows(durable?.backlog.receivers, allNames, 'duplicates'),
        digits: 0,
      },
      {
        metric: 'missing (events × receivers without a 2xx)',
        streamer: sumRows(ok?.backlog.receivers, allNames, 'missing'),
        baseline: sumRows(durable?.backlog.receivers, allNames, 'missing'),
        digits: 0,
      },
      {
        metric: 'delivery rows not recorded as delivered (durable baseline, both phases)',
        streamer: undefined,
        baseline: durableMissing,
        digits: 0,
      },
      ...(['p50', 'p99'] as const).map((p) => ({
        metric: `Kafka → receiver ${p}, backlog phase (queueing, ms)`,
        streamer: ok?.backlog.kafkaToReceiverMs[p],
        baseline: durable?.backlog.kafkaToReceiverMs[p],
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
        digits: 0,
      })),
      ...(['p50', 'p95', 'p99', 'max'] as const).map((p) => ({
        metric: `Kafka → receiver ${p}, ${cfg.steadyRate} events/s (ms)`,
        streamer: ok?.steady.kafkaToReceiverMs[p],
        baseline: durable?.steady.kafkaToReceiverMs[p],
        busyPct: steadyBusy,
        baselineBusyPct: durable?.steady.cpu.machineBusyPct,
      })),
      {
        metric: 'sender CPU per 1000 deliveries (ms: streamer process / durable baseline process)',
        streamer: ok && perThousand(ok.backlog.cpu.serviceS, ok.backlog.delivered.total2xx),
        baseline: durable && perThousand(durable.backlog.cpu.serviceS, durable.backlog.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
      },
      {
        metric: 'bench process CPU per 1000 deliveries (ms: receivers + producer)',
        streamer: ok && perThousand(ok.backlog.cpu.benchS, ok.backlog.delivered.total2xx),
        baseline: durable && perThousand(durable.backlog.cpu.benchS, durable.backlog.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
      },
      {
        metric: 'PostgreSQL CPU per 1000 deliveries (ms, all postgres processes)',
        streamer: ok && perThousand(ok.backlog.cpu.postgresS, ok.backlog.delivered.total2xx),
        baseline: durable && perThousand(durable.backlog.cpu.postgresS, durable.backlog.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
      },
      {
        metric: 'Kafka broker CPU per 1000 deliveries (ms)',
        streamer: ok && perThousand(ok.backlog.cpu.kafkaS, ok.backlog.delivered.total2xx),
        baseline: durable && perThousand(durable.backlog.cpu.kafkaS, durable.backlog.delivered.total2xx),
        busyPct: okBusy,
        baselineBusyPct: durableBusy,
      },
      {
        metric: 'machine CPU busy (%, 2 cores = 100)',
        streamer: okBusy,
        baseline: durableBusy,
        digits: 1,
      },
    ],
    'audit-streamer',
    'durable baseline',
  );
  const bareTable =
    (undici || axios) &&
    streamerTable(
      [
        {
          metric: 'deliveries/s (2xx at 3 receivers, first → last arrival)',
          streamer: axios?.delivered.perS,
          baseline: undici?.delivered.perS,
          busyPct: axios?.cpu.machineBusyPct,
          baselineBusyPct: undici?.cpu.machineBusyPct,
          digits: 0,
        },
        ...receivers.map((r, i) => ({
          metric: `deliveries/s at ${r.name}`,
          streamer: axios?.receivers[i].perS,
          baseline: undici?.receivers[i].perS,
          busyPct: axios?.cpu.machineBusyPct,
          baselineBusyPct: undici?.cpu.machineBusyPct,
          digits: 0,
        })),
        {
          metric: 'deliveries (2xx)',
          streamer: axios?.delivered.total2xx,
          baseline: undici?.delivered.total2xx,
          digits: 0,
        },
        {
          metric: 'errors (requests without a 2xx)',
          streamer: axios?.sender.errors,
          baseline: undici?.sender.errors,
          digits: 0,
        },
        {
          metric: 'sender CPU per 1000 deliveries (ms)',
          streamer: axios && perThousand(axios.sender.cpuS, axios.delivered.total2xx),
          baseline: undici && perThousand(undici.sender.cpuS, undici.delivered.total2xx),
          busyPct: axios?.cpu.machineBusyPct,
          baselineBusyPct: undici?.cpu.machineBusyPct,
        },
        {
          metric: 'bench process CPU per 1000 deliveries (ms: receivers)',
          streamer: axios && perThousand(axios.cpu.benchS, axios.delivered.total2xx),
          baseline: undici && perThousand(undici.cpu.benchS, undici.delivered.total2xx),
          busyPct: axios?.cpu.machineBusyPct,
          baselineBusyPct: undici?.cpu.machineBusyPct,
        },
        {
          metric: 'machine CPU busy (%, 2 cores = 100)',
          streamer: axios?.cpu.machineBusyPct,
          baseline: undici?.cpu.machineBusyPct,
          digits: 1,
        },
        {
          metric: 'durable baseline deliveries/s (left) against the bare loop with undici',
          streamer: durable?.backlog.delivered.perS,
          baseline: undici?.delivered.perS,
          busyPct: durableBusy,
          baselineBusyPct: undici?.cpu.machineBusyPct,
          digits: 0,
        },
      ],
      'bare loop, axios',
      'bare loop, undici',
    );
  const failureTable =
    bad &&
    ok &&
    okTwo &&
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
  const missing = (run: ScenarioResult, names: string[]) =>
    sumMissing(run.backlog.receivers, names) + sumMissing(run.steady.receivers, names);
  const targets: Target[] = [
    ...(ok
      ? [
          {
            name: `deliveries/s, backlog (machine ${okBusy}% busy)`,
            goal: '>= 5000',
            value: ok.backlog.delivered.perS,
            pass: ok.backlog.delivered.perS >= 5000,
          },
          {
            name: `streamer / durable baseline (machine ${okBusy}% / ${durableBusy ?? '—'}% busy)`,
            goal: `>= ${DURABLE_RATIO_GOAL}`,
            value: round(durableRatio, 2),
            pass: durableRatio >= DURABLE_RATIO_GOAL,
          },
        ]
      : []),
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
    ...(ok
      ? [
          {
            name: 'every event at every receiver (healthy run)',
            goal: '= 0 missing',
            value: missing(ok, allNames),
            pass: ok.backlog.complete && ok.steady.complete && missing(ok, allNames) === 0,
          },
        ]
      : []),
    ...(bad
      ? [
          {
            name: 'every event at the healthy receivers (failure run)',
            goal: '= 0 missing',
            value: missing(bad, healthyNames),
            pass: bad.backlog.complete && bad.steady.complete && missing(bad, healthyNames) === 0,
          },
        ]
      : []),
    ...(durable
      ? [
          {
            name: 'durable baseline: every delivery recorded as delivered',
            goal: '= 0 missing',
            value: durableMissing ?? NaN,
            pass: durable.backlog.complete && durable.steady.complete && durableMissing === 0,
          },
        ]
      : []),
  ];
  process.stdout.write(
    `\n${table}\n\n${bareTable ? `Bare loops (no Kafka, no database), axios against undici:\n\n${bareTable}\n\n` : ''}${failureTable ? `One of three receivers answering 500 to everything (fresh topic, database and streamer; same phases):\n\n${failureTable}\n\n` : ''}`,
  );
  process.stdout.write(
    `Busy %: the whole machine (2 cores = 100) while that figure was measured; another benchmark may share the machine (before the run: ${busyBeforePct}%).\n`,
  );
  process.stdout.write(
    `Baselines: ${baselineConnections} keep-alive connections per receiver (${baselineConnections * cfg.receivers} in flight, the streamer's effective min(DELIVERY_CONCURRENCY, per-destination × 3)), each in its own process.\n\nTargets:\n${targetLines(targets)}\n`,
  );

  const results = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: { ...cfg, effectiveConcurrency, baselineConnections, deliveryTimeoutMs: DELIVERY_TIMEOUT_MS },
    healthy: ok,
    durableBaseline: durable,
    bareLoops: bare,
    oneFailing: bad,
    failureComparison: bad &&
      okTwo && {
        healthyRunTwoReceiversPerS: round(okTwo.perS, 0),
        failureRunTwoReceiversPerS: badTwo?.perS,
        ratio: round(keepRatio, 3),
      },
    targets,
  };
  // Baselines alone (a smoke test) go to a file the report leaves out (`_` prefix), never over a full run's figures.
  writeResults(cfg.baselinesOnly ? '_streamer-baselines' : 'streamer', results, [
    ...(ok
      ? [
          {
            name: 'deliveries/s, backlog (3 receivers; baseline: durable baseline)',
            value: ok.backlog.delivered.perS,
            baseline: durable?.backlog.delivered.perS,
            goals: [{ goal: '>= 5000' }, { on: 'ratio' as const, goal: `>= ${DURABLE_RATIO_GOAL}` }],
          },
        ]
      : []),
    ...(durable
      ? [
          {
            name: 'deliveries/s, backlog, durable baseline (baseline: bare loop with undici)',
            value: durable.backlog.delivered.perS,
            baseline: undici?.delivered.perS,
          },
        ]
      : []),
    ...(undici ? [{ name: 'deliveries/s, backlog, bare loop with undici', value: undici.delivered.perS }] : []),
    ...(axios
      ? [
          {
            name: 'deliveries/s, backlog, bare loop with axios (baseline: bare loop with undici)',
            value: axios.delivered.perS,
            baseline: undici?.delivered.perS,
          },
        ]
      : []),
    ...(bad && okTwo
      ? [
          {
            name: `deliveries/s at the ${healthyNames.length} healthy receivers, one failing (baseline: the healthy run)`,
            value: badTwo?.perS,
            baseline: okTwo.perS,
            goals: [{ on: 'ratio' as const, goal: '>= 0.9' }],
          },
        ]
      : []),
    ...(ok || durable
      ? (['p50', 'p95', 'p99'] as const).map((p) => ({
          name: `Kafka → receiver ${p} at ${cfg.steadyRate} events/s (ms; baseline: durable baseline)`,
          value: ok?.steady.kafkaToReceiverMs[p],
          baseline: durable?.steady.kafkaToReceiverMs[p],
        }))
      : []),
    ...(ok
      ? [
          {
            name: 'missing deliveries, healthy run',
            value: missing(ok, allNames),
            goals: [{ goal: '= 0' }],
            pass: ok.backlog.complete && ok.steady.complete && missing(ok, allNames) === 0,
          },
        ]
      : []),
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
    ...(durable
      ? [
          {
            name: 'delivery rows not recorded as delivered, durable baseline',
            value: durableMissing,
            goals: [{ goal: '= 0' }],
            pass: durable.backlog.complete && durable.steady.complete && durableMissing === 0,
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
