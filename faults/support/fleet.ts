import { serviceDatabase, waitFor } from '@audit/testing';
import { Admin, AssignerProtocol } from 'kafkajs';
import { Client } from 'pg';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The e2e suite's process launcher, as in platform.ts.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { restartService, RunningService, ServiceName, startService } from '../../e2e/support/services';
import { CHECKER_APPLICATION_NAME, databaseUrl, withDatabase } from './checks';
import { Platform, PlatformOptions, startPlatform } from './platform';
import { RESULTS_DIR } from './report';

/*
 * A scenario's platform with several instances of each service (docs/architecture.md: consumers share
 * their group's partitions, the relays elect one leader per database, streamers share deliveries through
 * leases). Replicas of a service run with the same environment: same databases, topic and consumer group.
 * The load spreads its requests over the release-services in rotation, as a load balancer would; one
 * taken out of rotation (draining) gets no new request before it is stopped.
 */
export const SERVICES: readonly ServiceName[] = ['release-service', 'audit-recorder', 'audit-streamer'];

export interface FleetOptions extends PlatformOptions {
  /** Instances of each service (default 2). */
  replicas?: Partial<Record<ServiceName, number>>;
  /**
   * Every instance started at the same moment on databases that exist but are empty (as `npm run db:setup`
   * leaves them), so they migrate and create the topic concurrently. Otherwise one release-service first (it
   * creates the topic), then all the others together.
   */
  coldStart?: boolean;
}

export interface Fleet {
  platform: Platform;
  /** Per service, one slot per replica: the instance running in it now (or the one that last ran there). */
  replicas: Record<ServiceName, RunningService[]>;
  /** Release-services taken out of the load's rotation. */
  draining: Set<RunningService>;
  /** A cold start: ms until every instance was lined up at its migration (lineUpMigrations); null: they never were. */
  coldStartGate?: number | null;
  stop: () => Promise<void>;
}

export const replicaCount = (options: FleetOptions, name: ServiceName): number => options.replicas?.[name] ?? 2;

export async function startFleet(scenario: string, options: FleetOptions = {}): Promise<Fleet> {
  const replicas: Record<ServiceName, RunningService[]> = {
    'release-service': [],
    'audit-recorder': [],
    'audit-streamer': [],
  };
  const started: RunningService[] = [];
  let coldStartGate: number | null | undefined;
  /** Starts the instances together; if one fails, the others are stopped once they settled, so none outlives the scenario. */
  const launchAll = async (launches: Array<{ name: ServiceName; env: Record<string, string> }>) => {
    const outcomes = await Promise.allSettled(launches.map(({ name, env }) => startService(name, env)));
    for (const [i, outcome] of outcomes.entries())
      if (outcome.status === 'fulfilled') {
        started.push(outcome.value);
        replicas[launches[i].name].push(outcome.value);
      }
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) throw failed.reason;
  };
  const startServices = async (envs: Record<ServiceName, Record<string, string>>) => {
    // db:setup's part (the roles, an empty database owned by the owner role) once per database: it is the
    // operator's step, done before any instance starts (run by several instances at once, its ALTER ROLE
    // statements collide with "tuple concurrently updated").
    for (const name of SERVICES)
      envs[name] = { ...envs[name], ...(await serviceDatabase(name, envs[name]['DATABASE_NAME'])) };
    const instances = (name: ServiceName, count = replicaCount(options, name)) =>
      Array.from({ length: count }, () => ({ name, env: envs[name] }));
    if (options.coldStart) {
      // Every instance at the same moment: they migrate their databases and create the topic concurrently.
      const { linedUp } = await lineUpMigrations(
        SERVICES.map((name) => ({ database: envs[name]['DATABASE_NAME'], instances: replicaCount(options, name) })),
      );
      await Promise.all([launchAll(SERVICES.flatMap((name) => instances(name))), linedUp]);
      coldStartGate = await linedUp;
    } else {
      // One release-service first: it creates the topic with its partitions before the consumers subscribe.
      await launchAll(instances('release-service', 1));
      await launchAll([
        ...instances('release-service', replicaCount(options, 'release-service') - 1),
        ...instances('audit-recorder'),
        ...instances('audit-streamer'),
      ]);
    }
    return {
      'release-service': replicas['release-service'][0],
      'audit-recorder': replicas['audit-recorder'][0],
      'audit-streamer': replicas['audit-streamer'][0],
    };
  };
  let platform: Platform;
  try {
    // 24 projects: every partition gets a share of the load, whichever replica holds it (keys are projects).
    platform = await startPlatform(scenario, { projects: 24, ...options, startServices });
  } catch (err) {
    await Promise.all(started.map((s) => s.stop('SIGKILL')));
    throw err;
  }
  const fleet: Fleet = { platform, replicas, draining: new Set(), coldStartGate, stop: () => stopFleet(fleet) };
  platform.releaseUrls = () =>
    replicas['release-service'].filter((r) => r.running() && !fleet.draining.has(r)).map((r) => r.url);
  return fleet;
}

/**
 * Makes the instances of a cold start reach their migrations at the same instant, whatever the jitter of
 * their boots: in each database an uncommitted DROP SCHEMA public (an empty schema: nothing else is
 * dropped) holds the lock on the schema that creating a table needs. Each instance then waits either
 * there, at its first CREATE TABLE, or on the migration lock behind the instance that holds it. Once all
 * of a database's instances wait on a lock, the drop is rolled back in every database and they go on
 * together: with the migration lock, in turn; without it, three migrations would run at once. `linedUp`
 * resolves with the ms until they were, or null if the deadline passed first (released anyway).
 */
async function lineUpMigrations(
  databases: Array<{ database: string; instances: number }>,
  timeoutMs = 90_000,
): Promise<{ linedUp: Promise<number | null> }> {
  const holders = await Promise.all(
    databases.map(async ({ database }) => {
      const client = new Client({
        connectionString: databaseUrl(database),
        application_name: CHECKER_APPLICATION_NAME,
      });
      await client.connect();
      await client.query('begin');
      await client.query('drop schema public');
      return client;
    }),
  );
  const started = Date.now();
  const linedUp = withDatabase('postgres', (monitor) =>
    waitFor(
      'every instance of a cold start waiting at its migration',
      async () => {
        const { rows } = await monitor.query<{ datname: string; n: number }>(
          "select datname, count(*)::int as n from pg_stat_activity where datname = any($1::text[]) and wait_event_type = 'Lock' and application_name <> $2 group by datname",
          [databases.map((d) => d.database), CHECKER_APPLICATION_NAME],
        );
        const waiting = new Map(rows.map((r) => [r.datname, r.n]));
        return databases.every((d) => (waiting.get(d.database) ?? 0) >= d.instances);
      },
      { timeoutMs, intervalMs: 50 },
    ),
  )
    .then(
      () => Date.now() - started,
      () => null,
    )
    .finally(() => Promise.all(holders.map((c) => c.query('rollback').finally(() => c.end()))));
  return { linedUp };
}

/** The instances of a service running now. */
export const running = (fleet: Fleet, name: ServiceName): RunningService[] =>
  fleet.replicas[name].filter((r) => r.running());

/** One more instance of a service, same environment; resolves once it is ready. */
export async function addReplica(fleet: Fleet, name: ServiceName): Promise<RunningService> {
  const service = await startService(name, fleet.replicas[name][0].env);
  fleet.replicas[name].push(service);
  return service;
}

/**
 * Stops the instance in a slot with `signal`; resolves with its exit code (null when a signal ended it).
 * A release-service leaves the rotation first, so no new request reaches it; those in flight must finish.
 */
export async function stopReplica(
  fleet: Fleet,
  name: ServiceName,
  slot: number,
  signal: NodeJS.Signals = 'SIGTERM',
): Promise<number | null> {
  const service = fleet.replicas[name][slot];
  fleet.draining.add(service);
  return service.stop(signal);
}

/** The slot's instance again (same port and environment), its earlier logs kept in front; resolves once ready. */
export async function restartReplica(fleet: Fleet, name: ServiceName, slot: number): Promise<RunningService> {
  const before = fleet.replicas[name][slot];
  const after = await restartService(before);
  after.logs.unshift(...before.logs, `\n--- ${name} #${slot} restarted ---\n`);
  fleet.replicas[name][slot] = after;
  if (slot === 0) fleet.platform.services[name] = after;
  return after;
}

/** Stops every replica beyond the first of each service (keeping their logs), then the platform. */
async function stopFleet(fleet: Fleet): Promise<void> {
  for (const halt of fleet.platform.onStop) halt();
  const extra = SERVICES.flatMap((name) =>
    fleet.replicas[name].slice(1).map((service, i) => ({ service, slot: i + 1 })),
  );
  await Promise.all(extra.map(({ service }) => service.stop()));
  const logs = join(RESULTS_DIR, 'logs');
  mkdirSync(logs, { recursive: true });
  for (const { service, slot } of extra)
    writeFileSync(
      join(logs, `${fleet.platform.scenario.replace(/[^a-z0-9]+/gi, '-')}.${service.name}.${slot}.log`),
      service.logs.join(''),
    );
  await fleet.platform.stop();
}

export interface GroupMember {
  memberId: string;
  partitions: number[];
}

/** A consumer group as the broker sees it: its state and each member's partitions of the scenario's topic. */
export async function describeGroup(
  admin: Admin,
  groupId: string,
  topic: string,
): Promise<{ state: string; members: GroupMember[] }> {
  const { groups } = await admin.describeGroups([groupId]);
  const group = groups[0];
  return {
    state: group.state,
    members: group.members.map((m) => ({
      memberId: m.memberId,
      partitions:
        m.memberAssignment.length === 0
          ? []
          : [...(AssignerProtocol.MemberAssignment.decode(m.memberAssignment)?.assignment[topic] ?? [])].sort(
              (a, b) => a - b,
            ),
    })),
  };
}

/** Runs `work` with a connected admin client of the scenario's cluster. */
export async function withAdmin<T>(platform: Platform, work: (admin: Admin) => Promise<T>): Promise<T> {
  const admin = platform.kafka.admin();
  await admin.connect();
  try {
    return await work(admin);
  } finally {
    await admin.disconnect();
  }
}

/** Waits until a group is stable with `size` members, each holding at least one partition. */
export async function waitForGroup(
  platform: Platform,
  groupId: string,
  size: number,
  timeoutMs = 90_000,
): Promise<GroupMember[]> {
  return withAdmin(platform, (admin) =>
    waitFor(
      `consumer group ${groupId} stable with ${size} members, each with partitions`,
      async () => {
        const group = await describeGroup(admin, groupId, platform.topic);
        return group.state === 'Stable' &&
          group.members.length === size &&
          group.members.every((m) => m.partitions.length > 0)
          ? group.members
          : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    ),
  );
}

async function committedOffsets(admin: Admin, groupId: string, topic: string): Promise<Map<number, bigint>> {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return new Map(offsets.partitions.map((p) => [p.partition, BigInt(p.offset)]));
}

async function highWatermarks(admin: Admin, topic: string): Promise<Map<number, bigint>> {
  return new Map((await admin.fetchTopicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
}

export interface Failover {
  /** The killed member's partitions that received messages after the kill. */
  partitions: number[];
  /** From the kill until the last of them had an offset committed again by the group. */
  seconds: number;
}

/**
 * What a consumer replica's SIGKILL cost its group: `before` is the group's membership taken before the
 * kill, `killedAt` when the process was gone. The member that is no longer there once the group is stable
 * again is the killed one; its partitions count as consumed again when their committed offset moves past
 * where the dead member left it (read right after the kill, when nobody owned them). Only partitions that
 * received messages since count: traffic must flow meanwhile. Polled every 200 ms: a figure to report,
 * within that resolution.
 */
export async function measureFailover(
  platform: Platform,
  groupId: string,
  before: GroupMember[],
  killedAt: number,
  timeoutMs: number,
): Promise<Failover> {
  return withAdmin(platform, async (admin) => {
    const left = await committedOffsets(admin, groupId, platform.topic);
    const highAtKill = await highWatermarks(admin, platform.topic);
    const resumedAt = new Map<number, number>();
    let gone: GroupMember | undefined;
    return waitFor(
      `the partitions of the killed member of ${groupId} to be consumed again`,
      async () => {
        const now = Date.now();
        for (const [partition, offset] of await committedOffsets(admin, groupId, platform.topic))
          if (offset > (left.get(partition) ?? -1n) && !resumedAt.has(partition)) resumedAt.set(partition, now);
        if (!gone) {
          const group = await describeGroup(admin, groupId, platform.topic);
          if (group.state !== 'Stable') return undefined;
          gone = before.find((m) => !group.members.some((n) => n.memberId === m.memberId));
          if (!gone) return undefined;
        }
        const high = await highWatermarks(admin, platform.topic);
        const busy = gone.partitions.filter((p) => (high.get(p) ?? 0n) > (highAtKill.get(p) ?? 0n));
        if (busy.length === 0 || !busy.every((p) => resumedAt.has(p))) return undefined;
        return {
          partitions: busy,
          seconds: Math.max(...busy.map((p) => (resumedAt.get(p) as number) - killedAt)) / 1000,
        };
      },
      { timeoutMs, intervalMs: 200 },
    );
  });
}
