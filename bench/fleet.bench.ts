/**
 * Fleet benchmark: the built recorder and streamer run as BENCH_REPLICAS replicas (2) of one consumer group against a
 * three-broker cluster (replication factor 3, min.insync.replicas 2), beside, in the same run, one replica of each
 * against the single local broker, on the same amount of work.
 *   npm run bench:fleet
 * On two cores this measures the cost of running replicated, not scale: the replicas share the cores with each
 * other, three JVMs and PostgreSQL, so the fleet figure is expected below the single one; on real hardware each
 * replica gets its own cores. The figure to watch is how much below.
 *
 * Phases, each on a fresh topic of BENCH_PARTITIONS (12) partitions and a fresh database:
 *  - recorder: BENCH_EVENTS (60000) ReleaseCreated events preloaded (acks -1), then the replicas start; rate from the
 *    first stored row to the last (steady catch-up, as bench/recorder.bench.ts measures it);
 *  - streamer: the replicas start, one destination is created on a local keep-alive receiver, BENCH_STREAM_EVENTS
 *    (20000) events are produced as fast as possible; rate from the first arrival at the receiver to the last.
 * The cluster is started from deploy/kafka-local (KAFKA_NODES=3) on BENCH_CLUSTER_PORT (29392: brokers 29392, 29394,
 * 29396) with its own data folder, and stopped at the end; BENCH_CLUSTER_BROKERS uses a running cluster instead.
 * Knobs (env): BENCH_EVENTS, BENCH_STREAM_EVENTS, BENCH_PARTITIONS, BENCH_PROJECTS (30), BENCH_REPLICAS,
 * BENCH_CLUSTER_PORT, BENCH_CLUSTER_BROKERS, BENCH_TIMEOUT_S (300 per phase), BENCH_LOG_LEVEL (warn), DATABASE_URL,
 * KAFKA_BROKERS (the single broker, 127.0.0.1:9092).
 * Figures go to stdout and bench/results/fleet.json.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import jwt from 'jsonwebtoken';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { DomainEvent, envelope } from '../libs/contracts/src';
import { releaseCreatedEvent } from '../libs/platform/testing/src/lib/fixtures';
import { databaseUrl, dropDatabase } from './support/baseline';
import { createLogAppendTimeTopic, deleteTopics } from './support/kafka';
import { startRecorder } from './support/recorder-service';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { RunningService, serviceDatabase } from './support/service';
import { startStreamer } from './support/streamer-service';
import { BenchReceiver } from './support/streamer-receivers';
import { writeResults } from './support/results';
import { round } from './support/stats';

const ROOT = join(__dirname, '..');
const cfg = {
  events: num('BENCH_EVENTS', 60_000),
  streamEvents: num('BENCH_STREAM_EVENTS', 20_000),
  partitions: num('BENCH_PARTITIONS', 12),
  projects: num('BENCH_PROJECTS', 30),
  replicas: num('BENCH_REPLICAS', 2),
  clusterPort: num('BENCH_CLUSTER_PORT', 29392),
  timeoutMs: num('BENCH_TIMEOUT_S', 300) * 1000,
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
};
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const SINGLE = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const givenCluster = process.env['BENCH_CLUSTER_BROKERS']?.split(',').filter(Boolean);
const CLUSTER = givenCluster ?? [0, 2, 4].map((d) => `127.0.0.1:${cfg.clusterPort + d}`);
const CLUSTER_ENV = {
  KAFKA_NODES: '3',
  KAFKA_PORT: String(cfg.clusterPort),
  KAFKA_DATA_DIR: join(ROOT, 'tmp', 'bench-cluster', 'data'),
  KAFKA_LOG_DIR: join(ROOT, 'tmp', 'bench-cluster', 'logs'),
};
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const groupPath = `fleet-${suffix}`;
const meta = { actor: { id: 1, name: 'bench', ip_address: '203.0.113.7' }, correlationId: groupPath, now: new Date() };

const services = new Set<RunningService>();
const databases: string[] = [];
const topics: Array<{ brokers: string[]; topic: string }> = [];
let receiver: BenchReceiver | undefined;
let clusterStarted = false;

const kafkaScript = (name: string) =>
  promisify(execFile)('bash', [join(ROOT, 'deploy', 'kafka-local', 'scripts', name)], {
    env: { ...process.env, ...CLUSTER_ENV },
    timeout: 180_000,
  });

interface Setup {
  label: string;
  brokers: string[];
  replicas: number;
}

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
async function cleanup(): Promise<void> {
  const steps: Array<[string, () => Promise<unknown>]> = [
    ['stop services', () => Promise.all([...services].map((s) => s.stop()))],
    ['close receiver', async () => receiver?.close()],
    ['drop databases', () => Promise.all(databases.splice(0).map((db) => dropDatabase(SERVER_URL, db)))],
    [
      'delete topics',
      () =>
        Promise.all(
          topics.splice(0).map(({ brokers, topic }) => deleteTopics(kafkaOf(brokers), [topic, `${topic}.dlq`])),
        ),
    ],
    ['stop cluster', async () => clusterStarted && kafkaScript('kafka-stop.sh')],
  ];
  services.clear();
  for (const [name, step] of steps) await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
}

const kafkaOf = (brokers: string[]) => new Kafka({ brokers, clientId: 'fleet-bench', logLevel: logLevel.NOTHING });

async function newTopic(setup: Setup, name: string): Promise<string> {
  const topic = `bench-fleet-${name}-${suffix}`;
  topics.push({ brokers: setup.brokers, topic });
  await createLogAppendTimeTopic(kafkaOf(setup.brokers), topic, cfg.partitions);
  return topic;
}

async function produce(brokers: string[], topic: string, events: DomainEvent[]): Promise<void> {
  const producer = kafkaOf(brokers).producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  try {
    for (let i = 0; i < events.length; i += 1000) {
      await producer.send({
        topic,
        acks: -1,
        messages: events.slice(i, i + 1000).map((e) => ({
          key: `${e.scope.entity_type}:${e.scope.entity_id}`,
          value: JSON.stringify(e),
        })),
      });
    }
  } finally {
    await producer.disconnect();
  }
}

const projectPath = (id: number) => `${groupPath}/p${id}`;
const releases = (count: number): DomainEvent[] =>
  Array.from({ length: count }, (_, i) => {
    const projectId = (i % cfg.projects) + 1;
    return releaseCreatedEvent(i + 1, projectId, projectPath(projectId));
  });

/** Polls `count` until it reaches `expected` or the deadline; the rate runs from the first non-zero sample. */
async function steadyRate(count: () => Promise<number>, expected: number): Promise<{ perS: number; done: boolean }> {
  const deadline = performance.now() + cfg.timeoutMs;
  let first: { at: number; n: number } | undefined;
  for (;;) {
    const n = await count();
    const at = performance.now();
    if (!first && n > 0) first = { at, n };
    if (n >= expected || at > deadline) {
      const perS = first && at > first.at ? (n - first.n) / ((at - first.at) / 1000) : NaN;
      return { perS: round(perS, 0), done: n >= expected };
    }
    await sleep(100);
  }
}

async function recorderPhase(setup: Setup): Promise<{ perS: number; done: boolean }> {
  const topic = await newTopic(setup, 'rec');
  await produce(setup.brokers, topic, releases(cfg.events));
  const db = `bench_fleet_rec_${suffix}_${setup.replicas}`;
  databases.push(db);
  const env = {
    ...(await serviceDatabase('audit-recorder', SERVER_URL, db)),
    KAFKA_BROKERS: setup.brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_TOPIC_PARTITIONS: String(cfg.partitions),
    KAFKA_GROUP_ID: `bench-fleet-rec-${suffix}-${setup.replicas}`,
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: cfg.logLevel,
  };
  const started = await Promise.all(
    Array.from({ length: setup.replicas }, (_, i) =>
      startRecorder({
        ...env,
        INSTANCE_NAME: `audit-recorder-${i}`,
        AUDIT_LOG_FILE: join(tmpdir(), `bench-fleet-${suffix}-${setup.replicas}-${i}.log`),
      }),
    ),
  );
  started.forEach((s) => services.add(s));
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, db) });
  await pg.connect();
  try {
    return await steadyRate(
      async () => Number((await pg.query<{ n: string }>('select count(*) as n from audit_events')).rows[0].n),
      cfg.events,
    );
  } finally {
    await pg.end();
    await Promise.all(started.map((s) => s.stop().then(() => services.delete(s))));
  }
}

async function createDestination(service: RunningService, url: string): Promise<void> {
  const owner = jwt.sign({ sub: '2', name: 'bench-owner', groups: { [groupPath]: 'owner' } }, SECRET, {
    algorithm: 'HS256',
    expiresIn: '2h',
  });
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(
      `${service.url}/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` },
        body: JSON.stringify({ destination_url: url, name: 'fleet receiver' }),
      },
    );
    if (res.status === 201) return;
    // 404 until the streamer has consumed the GroupCreated event.
    if (res.status !== 404 || Date.now() > deadline) throw new Error(`destination: HTTP ${res.status}`);
    await sleep(200);
  }
}

function namespaceEvents(): DomainEvent[] {
  const group = envelope(
    'GroupCreated',
    { group_id: 1, path: groupPath, name: 'Fleet', full_path: groupPath, parent_id: null },
    { type: 'Group', id: '1', version: 1 },
    { entity_type: 'Group', entity_id: 1, entity_path: groupPath },
    meta,
  );
  const projects = Array.from({ length: cfg.projects }, (_, i) =>
    envelope(
      'ProjectCreated',
      { project_id: i + 1, path: `p${i + 1}`, name: `P${i + 1}`, full_path: projectPath(i + 1), namespace_id: 1 },
      { type: 'Project', id: String(i + 1), version: 1 },
      { entity_type: 'Project', entity_id: i + 1, entity_path: projectPath(i + 1) },
      meta,
    ),
  );
  return [group, ...projects];
}

async function streamerPhase(setup: Setup): Promise<{ perS: number; done: boolean }> {
  const topic = await newTopic(setup, 'str');
  await produce(setup.brokers, topic, namespaceEvents());
  const db = `bench_fleet_str_${suffix}_${setup.replicas}`;
  databases.push(db);
  receiver ??= await BenchReceiver.start('fleet');
  receiver.reset();
  const env = {
    ...(await serviceDatabase('audit-streamer', SERVER_URL, db)),
    KAFKA_BROKERS: setup.brokers.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_TOPIC_PARTITIONS: String(cfg.partitions),
    KAFKA_GROUP_ID: `bench-fleet-str-${suffix}-${setup.replicas}`,
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: cfg.logLevel,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STREAMING_ALLOW_HTTP: 'true',
    STREAMING_ALLOWED_HOSTS: '127.0.0.1',
  };
  const started = await Promise.all(
    Array.from({ length: setup.replicas }, (_, i) => startStreamer({ ...env, INSTANCE_NAME: `audit-streamer-${i}` })),
  );
  started.forEach((s) => services.add(s));
  try {
    await createDestination(started[0], receiver.url);
    const counting = receiver;
    const [rate] = await Promise.all([
      steadyRate(async () => counting.ok.size, cfg.streamEvents),
      produce(setup.brokers, topic, releases(cfg.streamEvents)),
    ]);
    return rate;
  } finally {
    await Promise.all(started.map((s) => s.stop().then(() => services.delete(s))));
  }
}

async function main(): Promise<void> {
  const busyBefore = await backgroundBusyPct();
  if (!givenCluster) {
    log(`starting a three-broker cluster on ${CLUSTER.join(', ')}`);
    clusterStarted = true;
    await kafkaScript('kafka-start.sh');
  }
  const setups: Setup[] = [
    { label: '1 replica, 1 broker', brokers: SINGLE, replicas: 1 },
    { label: `${cfg.replicas} replicas, 3 brokers`, brokers: CLUSTER, replicas: cfg.replicas },
  ];
  const results: Record<
    string,
    { recorder: { perS: number; done: boolean }; streamer: { perS: number; done: boolean } }
  > = {};
  for (const setup of setups) {
    log(`[${setup.label}] recorder: ${cfg.events} events preloaded, ${setup.replicas} replica(s)`);
    const recorder = await recorderPhase(setup);
    log(`[${setup.label}] recorder: ${recorder.perS} events/s${recorder.done ? '' : ' (INCOMPLETE)'}`);
    log(`[${setup.label}] streamer: ${cfg.streamEvents} events, ${setup.replicas} replica(s)`);
    const streamer = await streamerPhase(setup);
    log(`[${setup.label}] streamer: ${streamer.perS} deliveries/s${streamer.done ? '' : ' (INCOMPLETE)'}`);
    results[setup.label] = { recorder, streamer };
  }
  const [single, fleet] = setups.map((s) => results[s.label]);
  const ratio = (a: number, b: number) => round(a / b, 2);
  const table = [
    `| metric | ${setups[0].label} | ${setups[1].label} | ratio |`,
    '| --- | ---: | ---: | ---: |',
    `| recorder, stored events/s | ${single.recorder.perS} | ${fleet.recorder.perS} | ${ratio(fleet.recorder.perS, single.recorder.perS)} |`,
    `| streamer, deliveries/s | ${single.streamer.perS} | ${fleet.streamer.perS} | ${ratio(fleet.streamer.perS, single.streamer.perS)} |`,
  ].join('\n');
  process.stdout.write(`\n${table}\n\nmachine busy before the run: ${busyBefore} %\n`);
  // The single-replica figure stands where other benches put their bare baseline: the ratio is the fleet's cost.
  writeResults('fleet', { git: gitInfo(), cfg, busyBeforePct: busyBefore, results, table }, [
    {
      name: 'recorder, 2 replicas on 3 brokers (events/s)',
      value: fleet.recorder.perS,
      baseline: single.recorder.perS,
    },
    {
      name: 'streamer, 2 replicas on 3 brokers (deliveries/s)',
      value: fleet.streamer.perS,
      baseline: single.streamer.perS,
    },
  ]);
  if (![single, fleet].every((r) => r.recorder.done && r.streamer.done)) process.exitCode = 1;
}

process.once('SIGINT', () => void cleanup().then(() => process.exit(130)));
main()
  .catch((err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(() => cleanup());
