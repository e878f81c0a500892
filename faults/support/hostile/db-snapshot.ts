import { TEST_DATABASE_URL } from '@audit/testing';
import { Client } from 'pg';

/*
 * What the services have stored: every table of every schema of their databases (found through
 * information_schema, so a new table is covered without touching the test), as a row count and a
 * digest of the rows, so an update of a rejected request is caught as well as an insert.
 */
export type Snapshot = Record<string, { rows: number; digest: string }>;

/**
 * Tables a service rewrites on its own clock, whatever requests arrive: the streamer's delivery slots are
 * renewed and released by their holders every second or so (leases, not stored data). Left out of the
 * snapshot, or every phase would show a change no request made.
 */
const SELF_RENEWING = new Set(['public.delivery_slots', 'public.delivery_slot_waiters']);

async function withDatabase<T>(database: string, run: (client: Client) => Promise<T>): Promise<T> {
  const url = new URL(TEST_DATABASE_URL);
  url.pathname = `/${database}`;
  const client = new Client({ connectionString: url.toString() });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

const tablesOf = async (client: Client): Promise<string[]> =>
  (
    await client.query<{ name: string }>(
      `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
    )
  ).rows
    .map((r) => r.name)
    .filter((name) => !SELF_RENEWING.has(name));

export async function snapshot(databases: string[]): Promise<Snapshot> {
  const out: Snapshot = {};
  for (const database of databases) {
    await withDatabase(database, async (client) => {
      for (const table of await tablesOf(client)) {
        const { rows } = await client.query<{ rows: string; digest: string | null }>(
          `SELECT count(*) AS rows, md5(string_agg(t::text, '|' ORDER BY t::text)) AS digest FROM ${table} t`,
        );
        out[`${database}:${table}`] = { rows: Number(rows[0].rows), digest: rows[0].digest ?? '' };
      }
    });
  }
  return out;
}

export function diff(before: Snapshot, after: Snapshot): string[] {
  const tables = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort();
  return tables
    .filter((t) => before[t]?.rows !== after[t]?.rows || before[t]?.digest !== after[t]?.digest)
    .map(
      (t) =>
        `${t}: ${before[t]?.rows ?? 'absent'} -> ${after[t]?.rows ?? 'absent'} rows${before[t]?.rows === after[t]?.rows ? ' (same count, rows changed)' : ''}`,
    );
}

/** Every correlation id matching `pattern` (a POSIX regex) found in any row of any table: who wrote what. */
export async function correlationIdsStored(
  databases: string[],
  pattern: string,
): Promise<Map<string, Array<{ table: string; row: string }>>> {
  const found = new Map<string, Array<{ table: string; row: string }>>();
  for (const database of databases) {
    await withDatabase(database, async (client) => {
      for (const table of await tablesOf(client)) {
        const { rows } = await client.query<{ id: string; row: string }>(
          `SELECT m[1] AS id, t::text AS row FROM ${table} t, regexp_matches(t::text, $1, 'g') AS m`,
          [`(${pattern})`],
        );
        for (const r of rows)
          found.set(r.id, [...(found.get(r.id) ?? []), { table: `${database}:${table}`, row: r.row }]);
      }
    });
  }
  return found;
}

export const query = <T extends object>(database: string, sql: string, params: unknown[] = []): Promise<T[]> =>
  withDatabase(database, async (client) => (await client.query(sql, params)).rows as T[]);
