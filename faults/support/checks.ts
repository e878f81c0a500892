import { dlqTopicFor } from '@audit/contracts';
import { TEST_DATABASE_URL, waitFor } from '@audit/testing';
import { Client } from 'pg';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Platform } from './platform';
import { ownerOfPort } from './sockets';

/** The checker's own connections carry this name, so cutting a service's connections spares them. */
export const CHECKER_APPLICATION_NAME = 'faults-checker';

/** The test PostgreSQL server's URL (its superuser) for database `name`. */
export function databaseUrl(name: string): string {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  return url.toString();
}

/** Runs `work` with a connection to database `name` of the test PostgreSQL server. */
export async function withDatabase<T>(name: string, work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: databaseUrl(name), application_name: CHECKER_APPLICATION_NAME });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** Terminates every backend of a service's database except the checker's; returns how many. */
export async function terminateBackends(database: string): Promise<number> {
  return withDatabase('postgres', async (client) => {
    const { rows } = await client.query<{ terminated: boolean }>(
      'select pg_terminate_backend(pid) as terminated from pg_stat_activity where datname = $1 and pid <> pg_backend_pid() and application_name <> $2',
      [database, CHECKER_APPLICATION_NAME],
    );
    return rows.filter((r) => r.terminated).length;
  });
}

/** Messages in the scenario's dead-letter topic, from its offsets (no consumer, no waiting). */
export async function dlqDepth(platform: Platform): Promise<number> {
  const admin = platform.kafka.admin();
  await admin.connect();
  try {
    const offsets = await admin.fetchTopicOffsets(dlqTopicFor(platform.topic));
    return offsets.reduce((sum, p) => sum + Number(p.high) - Number(p.low), 0);
  } finally {
    await admin.disconnect();
  }
}

/** Whether an audit type is streamed, straight from its definition in config/audit_events/types. */
export function isStreamed(eventType: string): boolean {
  const file = join(__dirname, '..', '..', 'config', 'audit_events', 'types', `${eventType}.yml`);
  return (parse(readFileSync(file, 'utf8')) as { streamed?: boolean }).streamed === true;
}

/** Audit events of the scenario's load stored so far (their correlation ids carry the suffix). */
export async function storedSoFar(platform: Platform): Promise<number> {
  return withDatabase(
    platform.databases.recorder,
    async (db) =>
      (
        await db.query<{ n: number }>(
          "select count(*)::int as n from audit_events where payload->'details'->>'correlation_id' like $1",
          [`f-${platform.suffix}-%`],
        )
      ).rows[0].n,
  );
}

/**
 * Waits until a service has a transaction open on its database (a batch being written), polling
 * pg_stat_activity over one connection. A SIGKILL right then lands in the middle of that batch.
 * A fleet names its replicas' `pids`: the wait ends on a backend of one of them (found by its
 * client port, support/sockets.ts), whose pid it resolves with. `statements` are what the
 * backend's query must contain (one of them; by default a recorder's batch).
 */
export async function waitForOpenTransaction(
  database: string,
  timeoutMs: number,
  { pids, statements = ['audit_events', 'namespaces'] }: { pids?: readonly number[]; statements?: string[] } = {},
): Promise<number | undefined> {
  return withDatabase('postgres', (client) =>
    waitFor(
      `a transaction open on ${database}${pids ? ` by one of ${pids.join(', ')}` : ''}`,
      async () => {
        const { rows } = await client.query<{ port: number | null }>(
          "select client_port as port from pg_stat_activity where datname = $1 and application_name <> $2 and state in ('active', 'idle in transaction') and query ilike any ($3::text[])",
          [database, CHECKER_APPLICATION_NAME, statements.map((s) => `%${s}%`)],
        );
        if (!pids) return rows.length > 0 ? { pid: undefined } : undefined;
        for (const { port } of rows) {
          const pid = port === null ? undefined : ownerOfPort(port, pids);
          if (pid !== undefined) return { pid };
        }
        return undefined;
      },
      { timeoutMs, intervalMs: 5 },
    ),
  ).then(({ pid }) => pid);
}

/** Where an accepted action's domain event is in the pipeline, for an event the recorder never stored. */
export interface Located {
  correlationId: string;
  /** Its release-service outbox row: published (marked after Kafka acknowledged it), not yet, or no row at all. */
  outbox: 'published' | 'unpublished' | 'absent';
  /** `partition/offset` of its message in the scenario's topic; null: not in the topic. */
  inTopic: string | null;
}

/**
 * Follows missing events back through the pipeline: release-service's outbox, then the topic itself,
 * read whole from the beginning by a consumer group of its own (deleted afterwards). An event published
 * but absent from the topic was acknowledged by Kafka and then lost; one in the topic was not consumed.
 */
export async function locateInPipeline(platform: Platform, correlationIds: string[]): Promise<Located[]> {
  if (correlationIds.length === 0) return [];
  const rows = await withDatabase(
    platform.databases.release,
    async (db) =>
      (
        await db.query<{ event_id: string; correlation_id: string; published: boolean }>(
          "select event_id::text, payload->>'correlation_id' as correlation_id, published_at is not null as published from outbox where payload->>'correlation_id' = any($1::text[])",
          [correlationIds],
        )
      ).rows,
  );
  const found = new Map<string, string>();
  const wanted = new Set(rows.map((r) => r.event_id));
  const admin = platform.kafka.admin();
  await admin.connect();
  const groupId = `faults-locate-${platform.suffix}`;
  const consumer = platform.kafka.consumer({ groupId });
  try {
    const high = new Map((await admin.fetchTopicOffsets(platform.topic)).map((p) => [p.partition, BigInt(p.high)]));
    const reached = new Map<number, bigint>();
    await consumer.connect();
    await consumer.subscribe({ topic: platform.topic, fromBeginning: true });
    await consumer.run({
      eachMessage: async ({ partition, message }) => {
        reached.set(partition, BigInt(message.offset) + 1n);
        try {
          const id = (JSON.parse(message.value?.toString() ?? '{}') as { id?: string }).id;
          if (id && wanted.has(id)) found.set(id, `${partition}/${message.offset}`);
        } catch {
          // not JSON: not one of ours
        }
      },
    });
    await waitFor(
      'the whole topic to be read',
      () => [...high].every(([p, h]) => h === 0n || (reached.get(p) ?? 0n) >= h),
      { timeoutMs: 60_000, intervalMs: 100 },
    );
  } finally {
    await consumer.disconnect();
    await admin.deleteGroups([groupId]).catch(() => undefined);
    await admin.disconnect();
  }
  return correlationIds.map((correlationId) => {
    const row = rows.find((r) => r.correlation_id === correlationId);
    return {
      correlationId,
      outbox: row ? (row.published ? 'published' : 'unpublished') : 'absent',
      inTopic: row ? (found.get(row.event_id) ?? null) : null,
    };
  });
}
