/**
 * The bare PostgreSQL baseline: what a release create writes (one event_store row, one outbox row,
 * one releases row, in one transaction) done with `pg` alone, on the same machine, at the same
 * concurrency. The gap between it and the service is what HTTP, Nest, MikroORM, validation and the
 * service's extra statements cost. `mirror` mode replays the service's whole statement sequence
 * (as of commit 78fb1fb: project lookup, BEGIN, nextval, one CTE appending event + outbox + NOTIFY,
 * the releases insert, COMMIT), a profiling aid separating "more round trips" from "framework".
 */
import { randomUUID } from 'node:crypto';
import { Client, Pool } from 'pg';

export type BaselineMode = 'bare' | 'mirror';

export function databaseUrl(serverUrl: string, name: string): string {
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

async function onServer(serverUrl: string, sql: string): Promise<void> {
  const client = new Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}

const assertIdentifier = (name: string) => {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name: ${name}`);
};

export async function dropDatabase(serverUrl: string, name: string): Promise<void> {
  assertIdentifier(name);
  await onServer(serverUrl, `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`);
}

/**
 * Copied from apps/release-service/src/migrations/Migration20261121000001.ts (the three tables a
 * release create writes, their indexes, and `projects` so the releases FK is checked as in the
 * service); the groups FK is left out because the baseline creates no groups.
 */
const DDL = `
  create table event_store (global_position bigserial primary key, stream_id text not null, stream_version integer not null,
    event_id uuid not null unique, event_type text not null, payload jsonb not null, recorded_at timestamptz not null default now(),
    constraint event_store_stream_version unique (stream_id, stream_version));
  create table outbox (id bigserial primary key, event_id uuid not null unique, topic text not null, message_key text not null,
    payload jsonb not null, created_at timestamptz not null default now(), published_at timestamptz null);
  create index outbox_unpublished on outbox (id) where published_at is null;
  create sequence release_ids;
  create table projects (id integer primary key, path text not null, name text not null, full_path text not null,
    namespace_id integer not null, created_at timestamptz not null);
  create unique index projects_full_path on projects (lower(full_path));
  create table releases (id integer primary key, project_id integer not null references projects (id), tag_name text not null,
    name text not null, description text null, milestones jsonb not null default '[]', version integer not null,
    created_at timestamptz not null, updated_at timestamptz not null, deleted_at timestamptz null);
  create unique index releases_live_tag on releases (project_id, tag_name) where deleted_at is null;`;

export async function createBaselineDatabase(serverUrl: string, name: string, projects: number): Promise<void> {
  assertIdentifier(name);
  await onServer(serverUrl, `CREATE DATABASE "${name}"`);
  const client = new Client({ connectionString: databaseUrl(serverUrl, name) });
  await client.connect();
  try {
    await client.query(DDL);
    await client.query(
      `insert into projects select i, 'p' || i, 'P' || i, 'bench/p' || i, 1, now() from generate_series(1, $1) i`,
      [projects],
    );
  } finally {
    await client.end();
  }
}

/** The same envelope shape the service stores (docs/contracts.md), so payload sizes match. */
function releaseCreated(releaseId: number, projectId: number, tag: string, name: string, description: string) {
  return {
    id: randomUUID(),
    type: 'ReleaseCreated',
    schema_version: 1,
    occurred_at: new Date().toISOString(),
    aggregate: { type: 'Release', id: String(releaseId), version: 1 },
    actor: { id: 1, name: 'bench', ip_address: '127.0.0.1' },
    scope: { entity_type: 'Project', entity_id: projectId, entity_path: `bench/p${projectId}` },
    correlation_id: randomUUID(),
    data: {
      release_id: releaseId,
      project_id: projectId,
      tag_name: tag,
      name,
      description,
      milestones: [] as string[],
    },
  };
}

/** One release create, bare or mirroring the service's statements; throws on any failure. */
export function baselineOp(pool: Pool, mode: BaselineMode, projects: number, description: string, topic: string) {
  let nextId = 0;
  let nextTag = 0;
  return async (n: number): Promise<void> => {
    const projectId = (n % projects) + 1;
    // Unique across warm-up and measurement, which both count `n` from 0.
    const tag = `b${nextTag++}`;
    const client = await pool.connect();
    try {
      if (mode === 'mirror') await client.query('select * from projects where id = $1 limit 1', [projectId]);
      await client.query('begin');
      // Bare: ids from a client-side counter, no round trip (this database belongs to the baseline alone).
      const id =
        mode === 'mirror'
          ? Number((await client.query<{ id: string }>(`select nextval('release_ids') as id`)).rows[0].id)
          : ++nextId;
      const event = releaseCreated(id, projectId, tag, `Release ${tag}`, description);
      const payload = JSON.stringify(event);
      const append = [`Release-${id}`, event.id, event.type, payload];
      const queue = [event.id, topic, `Project:${projectId}`, payload];
      if (mode === 'mirror') {
        await client.query(
          `with appended as (insert into event_store (stream_id, stream_version, event_id, event_type, payload) values ($1, 1, $2, $3, $4)),
                queued as (insert into outbox (event_id, topic, message_key, payload) values ($5, $6, $7, $8))
           select pg_notify('outbox_appended', '')`,
          [...append, ...queue],
        );
      } else {
        await client.query(
          'insert into event_store (stream_id, stream_version, event_id, event_type, payload) values ($1, 1, $2, $3, $4)',
          append,
        );
        await client.query('insert into outbox (event_id, topic, message_key, payload) values ($1, $2, $3, $4)', queue);
      }
      await client.query(
        'insert into releases (id, project_id, tag_name, name, description, milestones, version, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, 1, $7, $7)',
        [id, projectId, tag, event.data.name, description, '[]', event.occurred_at],
      );
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  };
}

/**
 * The recorder's audit_events as its migrations leave it (Migration20261121000001/2, and since issue 16
 * Migration20261128000001): partitioned by UTC month of created_at, primary key (id, created_at), the chain
 * columns and the chain index, indexes included (same write cost), and audit_chain_heads, whose row for a
 * chain the recorder moves in the statement that appends to it. audit_events_ensure_partitions is the
 * migration's function without what only guards the running role (advisory lock, the triggers, the revoke);
 * the current month and the next two are created, as the migration creates them. For the bare baselines
 * (recorder, end to end); the append-only triggers fire on update/delete only and are left out.
 */
export const AUDIT_EVENTS_DDL = `
  create table audit_events (
    id uuid not null, event_type text not null, author_id bigint not null, author_name text not null,
    entity_type text not null, entity_id bigint not null, entity_path text not null, target_type text not null,
    target_id bigint null, created_at timestamptz not null, payload json not null, recorded_at timestamptz not null default now(),
    chain_id text not null, chain_seq bigint not null check (chain_seq >= 1),
    prev_hash bytea not null check (length(prev_hash) = 32), hash bytea not null check (length(hash) = 32),
    constraint audit_events_pkey primary key (id, created_at)
  ) partition by range (created_at);
  create index audit_events_created on audit_events (created_at desc, id desc);
  create index audit_events_entity on audit_events (entity_type, entity_id, created_at desc, id desc);
  create index audit_events_entity_path on audit_events (entity_path text_pattern_ops, created_at desc);
  create index audit_events_author on audit_events (author_id, created_at desc, id desc);
  create index audit_events_type on audit_events (event_type, created_at desc, id desc);
  create index audit_events_target on audit_events (target_type, target_id, created_at desc, id desc);
  create index audit_events_chain on audit_events (chain_id, chain_seq, id) include (prev_hash, hash);
  create table audit_chain_heads (
    chain text primary key, seq bigint not null check (seq >= 0), hash bytea not null check (length(hash) = 32),
    updated_at timestamptz not null default now()
  );
  create function audit_events_ensure_partitions(p_months date[]) returns integer language plpgsql as $$
  declare
    v_month date;
    v_name text;
    v_created integer := 0;
  begin
    foreach v_month in array coalesce(p_months, '{}') loop
      v_month := date_trunc('month', v_month)::date;
      v_name := format('audit_events_y%sm%s', to_char(v_month, 'YYYY'), to_char(v_month, 'MM'));
      continue when to_regclass(v_name) is not null;
      execute format('create table %I partition of audit_events for values from (%L) to (%L)', v_name,
        to_char(v_month, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(v_month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
      v_created := v_created + 1;
    end loop;
    return v_created;
  end $$;
  select audit_events_ensure_partitions(array[
    date_trunc('month', now() at time zone 'UTC')::date,
    (date_trunc('month', now() at time zone 'UTC') + interval '1 month')::date,
    (date_trunc('month', now() at time zone 'UTC') + interval '2 months')::date]);`;
