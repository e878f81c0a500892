/**
 * Consumer failover: how long the partitions of a consumer killed with SIGKILL stay unconsumed.
 *   npm run bench:failover
 * Two consumers of one group (the platform's BatchConsumer, each in a child process: support/failover-consumer.ts)
 * share a topic of BENCH_PARTITIONS (12) partitions while a producer keeps writing to every partition (one message
 * per partition every 50 ms). Once both consume, one is SIGKILLed. The figure: the time from the kill until the
 * survivor has consumed from every partition of the killed one (the first chunk of each), the first and the last.
 * kafkajs 2 has no static membership, so the group only moves the partitions once the killed member's session
 * times out: the figure is about the session timeout plus the rejoin, measured for each setting of
 * BENCH_FAILOVER_SETTINGS (`session:heartbeat` in ms, comma-separated; default `30000:3000,10000:1000`: the
 * consumers' settings before KAFKA_SESSION_TIMEOUT_MS existed, and its default).
 * Knobs (env): BENCH_FAILOVER_SETTINGS, BENCH_FAILOVER_RUNS (1 per setting), BENCH_PARTITIONS (12),
 * KAFKA_BROKERS (127.0.0.1:9092; a topic and groups of its own, deleted at the end).
 * Figures go to stdout and bench/results/consumer-failover.json.
 */
import { ChildProcess, fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Admin, AssignerProtocol, Kafka, logLevel, Producer } from 'kafkajs';
import { ensureTopics } from '../libs/platform/kafka/src';
import { releaseCreatedEvent } from '../libs/platform/testing/src/lib/fixtures';
import type { FailoverConsumerConfig, FailoverMessage } from './support/failover-consumer';
import { deleteTopics } from './support/kafka';
import { writeResults } from './support/results';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { round } from './support/stats';

const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const PARTITIONS = num('BENCH_PARTITIONS', 12, 2);
const RUNS = num('BENCH_FAILOVER_RUNS', 1);
const SETTINGS = (process.env['BENCH_FAILOVER_SETTINGS'] || '30000:3000,10000:1000').split(',').map((pair) => {
  const [session, heartbeat] = pair.split(':').map(Number);
  if (!(session >= 6000) || !(heartbeat > 0) || heartbeat * 3 >= session) {
    throw new Error(`BENCH_FAILOVER_SETTINGS: ${pair} is not session:heartbeat with session >= 6000 > 3 * heartbeat`);
  }
  return { session, heartbeat };
});
const CHILD = join(__dirname, 'support', 'failover-consumer.ts');
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const kafka = new Kafka({ brokers: BROKERS, clientId: 'failover-bench', logLevel: logLevel.NOTHING });

interface Consumer {
  child: ChildProcess;
  clientId: string;
  /** partition → times (ms) of the chunks this consumer handled from it. */
  chunks: Map<number, number[]>;
}

interface Run {
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  killedPartitions: number[];
  /** From the kill to the survivor's first chunk of the first, and of the last, of the killed one's partitions. */
  firstResumedS: number;
  allResumedS: number;
  /** The group's state and size after the kill, as polled every 250 ms. */
  groupTimeline: string[];
}

const children = new Set<ChildProcess>();

function startConsumer(config: FailoverConsumerConfig): Promise<Consumer> {
  const child = fork(CHILD, [], {
    execArgv: ['-r', '@swc-node/register'],
    env: { ...process.env, FAILOVER_CONSUMER: JSON.stringify(config) },
  });
  children.add(child);
  child.once('exit', () => children.delete(child));
  const chunks = new Map<number, number[]>();
  return new Promise((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`consumer exited with ${code} before it was ready`)));
    child.on('message', (message: FailoverMessage) => {
      if (message.type === 'ready') resolve({ child, clientId: message.clientId, chunks });
      else chunks.set(message.partition, [...(chunks.get(message.partition) ?? []), message.at]);
    });
  });
}

/** Each member's partitions, by client id, once the group is stable with `size` members that all have some. */
async function assignment(admin: Admin, groupId: string, topic: string, size: number): Promise<Map<string, number[]>> {
  const { groups } = await admin.describeGroups([groupId]);
  const group = groups[0];
  if (group.state !== 'Stable' || group.members.length !== size) return new Map();
  const byClient = new Map<string, number[]>();
  for (const member of group.members) {
    const decoded =
      member.memberAssignment.length > 0 ? AssignerProtocol.MemberAssignment.decode(member.memberAssignment) : null;
    byClient.set(
      member.clientId,
      [...(decoded?.assignment[topic] ?? [])].sort((a, b) => a - b),
    );
  }
  return [...byClient.values()].every((p) => p.length > 0) ? byClient : new Map();
}

async function until<T>(
  what: string,
  timeoutMs: number,
  probe: () => Promise<T | undefined> | T | undefined,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(50);
  }
}

/** One message to every partition every 50 ms, until stopped. */
function traffic(producer: Producer, topic: string): () => Promise<void> {
  let running = true;
  let n = 0;
  const loop = (async () => {
    while (running) {
      const messages = Array.from({ length: PARTITIONS }, (_, partition) => {
        n += 1;
        return { partition, key: `Project:${n}`, value: JSON.stringify(releaseCreatedEvent(n)) };
      });
      await producer.send({ topic, acks: -1, messages });
      await sleep(50);
    }
  })();
  return async () => {
    running = false;
    await loop;
  };
}

async function measure(admin: Admin, setting: { session: number; heartbeat: number }, run: number): Promise<Run> {
  const topic = `bench-failover-${suffix}-${setting.session}-${run}`;
  const groupId = `bench-failover-${suffix}-${setting.session}-${run}`;
  await ensureTopics(admin, topic, PARTITIONS);
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  const stopTraffic = traffic(producer, topic);
  const consumers: Consumer[] = [];
  try {
    const config = {
      brokers: BROKERS,
      topic,
      groupId,
      sessionTimeout: setting.session,
      heartbeatInterval: setting.heartbeat,
    };
    consumers.push(...(await Promise.all([startConsumer(config), startConsumer(config)])));
    const stable = await until('the group to be stable with both consumers', 120_000, async () => {
      const byClient = await assignment(admin, groupId, topic, 2);
      return consumers.every((c) => byClient.has(c.clientId)) ? byClient : undefined;
    });
    const since = Date.now();
    // Steady state: each consumer has handled a chunk of each of its partitions since the group settled.
    await until('both consumers to consume all their partitions', 60_000, () =>
      consumers.every((c) =>
        (stable.get(c.clientId) ?? []).every((p) => (c.chunks.get(p) ?? []).some((at) => at >= since)),
      )
        ? true
        : undefined,
    );
    const [victim, survivor] = consumers;
    const killedPartitions = stable.get(victim.clientId) ?? [];
    const killedAt = Date.now();
    victim.child.kill('SIGKILL');
    log(
      `${setting.session}/${setting.heartbeat} ms, run ${run}: killed a consumer of partitions ${killedPartitions.join(', ')}`,
    );
    // The group as the broker sees it meanwhile: when the killed member was dropped, when it was stable again.
    const timeline: string[] = [];
    let watching = true;
    const watch = (async () => {
      let last = '';
      while (watching) {
        const { groups } = await admin.describeGroups([groupId]);
        const now = `${groups[0].state} with ${groups[0].members.length} member(s)`;
        if (now !== last) timeline.push(`${round((Date.now() - killedAt) / 1000, 1)} s: ${(last = now)}`);
        await sleep(250);
      }
    })();
    const firsts = await until(
      'the survivor to consume every partition of the killed consumer',
      setting.session * 3 + 60_000,
      () => {
        const times = killedPartitions.map((p) => (survivor.chunks.get(p) ?? []).find((at) => at >= killedAt));
        return times.every((t) => t !== undefined) ? (times as number[]) : undefined;
      },
    ).finally(() => (watching = false));
    await watch;
    return {
      groupTimeline: timeline,
      sessionTimeoutMs: setting.session,
      heartbeatIntervalMs: setting.heartbeat,
      killedPartitions,
      firstResumedS: round((Math.min(...firsts) - killedAt) / 1000, 2),
      allResumedS: round((Math.max(...firsts) - killedAt) / 1000, 2),
    };
  } finally {
    await stopTraffic();
    await producer.disconnect();
    for (const c of consumers) if (c.child.exitCode === null && c.child.signalCode === null) c.child.kill('SIGTERM');
    await until('the consumers to exit', 30_000, () =>
      consumers.every((c) => !children.has(c.child)) ? true : undefined,
    ).catch(() => consumers.forEach((c) => c.child.kill('SIGKILL')));
    await deleteTopics(kafka, [topic, `${topic}.dlq`]).catch((err: Error) =>
      log(`could not delete ${topic}: ${err.message}`),
    );
    await admin.deleteGroups([groupId]).catch(() => undefined);
  }
}

async function main(): Promise<void> {
  const busy = await backgroundBusyPct();
  log(
    `brokers ${BROKERS.join(',')}, ${PARTITIONS} partitions, settings ${SETTINGS.map((s) => `${s.session}/${s.heartbeat}`).join(', ')} ms`,
  );
  const admin = kafka.admin();
  await admin.connect();
  const runs: Run[] = [];
  try {
    for (const setting of SETTINGS) {
      for (let run = 1; run <= RUNS; run += 1) {
        const result = await measure(admin, setting, run);
        runs.push(result);
        log(
          `session ${result.sessionTimeoutMs} ms, heartbeat ${result.heartbeatIntervalMs} ms: first partition consumed again ${result.firstResumedS} s after the kill, all ${result.killedPartitions.length} after ${result.allResumedS} s (group: ${result.groupTimeline.join('; ')})`,
        );
      }
    }
  } finally {
    await admin.disconnect();
  }
  const worst = (session: number) =>
    Math.max(...runs.filter((r) => r.sessionTimeoutMs === session).map((r) => r.allResumedS));
  const figures = writeResults(
    'consumer-failover',
    { git: gitInfo(), backgroundBusyPct: busy, brokers: BROKERS, partitions: PARTITIONS, runs },
    SETTINGS.map((s) => ({
      name: `all partitions of a SIGKILLed consumer consumed again (s), session ${s.session} ms / heartbeat ${s.heartbeat} ms`,
      value: worst(s.session),
    })),
  );
  process.stdout.write(
    '\n| session / heartbeat (ms) | killed partitions | first consumed again (s) | all consumed again (s) |\n',
  );
  process.stdout.write('| --- | --- | ---: | ---: |\n');
  for (const r of runs) {
    process.stdout.write(
      `| ${r.sessionTimeoutMs} / ${r.heartbeatIntervalMs} | ${r.killedPartitions.join(', ')} | ${r.firstResumedS} | ${r.allResumedS} |\n`,
    );
  }
  void figures;
}

main()
  .catch((err: Error) => {
    log(`failed: ${err.stack ?? err.message}`);
    process.exitCode = 1;
  })
  .finally(() => {
    for (const child of children) child.kill('SIGKILL');
  });
