import { dlqTopicFor } from '@audit/contracts';
import { TEST_DATABASE_URL, waitFor } from '@audit/testing';
import { Client } from 'pg';
import { parse } from 'yaml';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Platform } from './platform';

/** The checker's own connections carry this name, so cutting a service's connections spares them. */
export const CHECKER_APPLICATION_NAME = 'faults-checker';

/** Runs `work` with a connection to database `name` of the test PostgreSQL server. */
export async function withDatabase<T>(name: string, work: (client: Client) => Promise<T>): Promise<T> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${name}`;
  const client = new Client({ connectionString: url.toString(), application_name: CHECKER_APPLICATION_NAME });
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
 */
export async function waitForOpenTransaction(database: string, timeoutMs: number): Promise<void> {
  await withDatabase('postgres', (client) =>
    waitFor(
      `a transaction open on ${database}`,
      async () => {
        const { rows } = await client.query<{ n: number }>(
          "select count(*)::int as n from pg_stat_activity where datname = $1 and application_name <> $2 and state in ('active', 'idle in transaction') and (query ilike '%audit_events%' or query ilike '%namespaces%')",
          [database, CHECKER_APPLICATION_NAME],
        );
        return rows[0].n > 0;
      },
      { timeoutMs, intervalMs: 5 },
    ),
  );
}
