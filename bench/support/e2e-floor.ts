/**
 * The bare floor of the end-to-end benchmark: the same pipeline with no service in it, on the same
 * machine, PostgreSQL and broker, driven by the same open loop, poller and receiver.
 *  - write: one transaction through `pg` inserting what a release write stores (event_store,
 *    outbox and releases rows, support/baseline.ts's tables), then the envelope produced straight
 *    to Kafka (acks -1) with no outbox relay in between; the write counts as done at COMMIT, as
 *    the service answers 201 at COMMIT and publishes afterwards;
 *  - e2e-floor-pipeline.ts, in its own process as the services are: a kafkajs consumer mapping
 *    each batch with the platform's own mapping, linking it to its partition's hash chain and
 *    appending it with one unnest statement (rows and chain head) into the recorder's audit_events
 *    table (partitioned by month, same indexes), and another consumer group POSTing each audit
 *    event, signed, to the receiver through a keep-alive undici pool;
 *  - read: the poller's same keyset query (created_at, id ascending, pages of 100) through `pg`.
 * What the floor leaves out is what the services add: HTTP and Nest, auth, validation, the ORM,
 * the relay's NOTIFY and batching, the recorder's namespaces and DLQ handling, the streamer's
 * delivery records, leases and retries. Its latencies are the floor the services can approach.
 */
import { ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Kafka, Producer } from 'kafkajs';
import { Client, Pool } from 'pg';
import { envelope } from '../../libs/contracts/src';
import { AUDIT_EVENTS_DDL, createBaselineDatabase, databaseUrl } from './baseline';
import { Action, Pipeline } from './e2e-load';
import { PageSource } from './e2e-poller';

export interface FloorConfig {
  serverUrl: string;
  database: string;
  kafka: Kafka;
  brokers: string[];
  topic: string;
  suffix: string;
  projects: number;
  connections: number;
  receiverUrl: string;
}

export interface FloorPipeline extends Pipeline {
  source: PageSource<{ at: string; id: string }>;
  pid: number | undefined;
  close(): Promise<void>;
}

const DESCRIPTION = 'Benchmark release. '.repeat(10);
const ACTOR = { id: 2, name: 'bench-owner', ip_address: '127.0.0.1' };
const projectPath = (p: number) => `bench/p${p}`;

function release(a: Action, releaseId: number, version: number) {
  const projectId = a.release.project + 1;
  const meta = { actor: ACTOR, correlationId: a.correlationId, now: new Date() };
  const aggregate = { type: 'Release' as const, id: String(releaseId), version };
  const scope = { entity_type: 'Project' as const, entity_id: projectId, entity_path: projectPath(projectId) };
  const ref = { release_id: releaseId, project_id: projectId, tag_name: a.release.tag };
  return a.kind === 'create'
    ? envelope(
        'ReleaseCreated',
        { ...ref, name: `Release ${a.release.tag}`, description: DESCRIPTION, milestones: [] },
        aggregate,
        scope,
        meta,
      )
    : envelope(
        'ReleaseUpdated',
        {
          ...ref,
          name: `Release ${a.release.tag} renamed`,
          changes: { name: { from: `Release ${a.release.tag}`, to: `Release ${a.release.tag} renamed` } },
        },
        aggregate,
        scope,
        meta,
      );
}

function writer(pg: Pool, producer: Producer, topic: string, onProduceError: (err: Error) => void) {
  let nextId = 0;
  return async (a: Action): Promise<void> => {
    const id = a.kind === 'create' ? ++nextId : (a.release.id as number);
    const event = release(a, id, a.kind === 'create' ? 1 : 2);
    const payload = JSON.stringify(event);
    const key = `Project:${event.scope.entity_id}`;
    const client = await pg.connect();
    try {
      await client.query('begin');
      await client.query(
        'insert into event_store (stream_id, stream_version, event_id, event_type, payload) values ($1, $2, $3, $4, $5)',
        [`Release-${id}`, event.aggregate.version, event.id, event.type, payload],
      );
      await client.query('insert into outbox (event_id, topic, message_key, payload) values ($1, $2, $3, $4)', [
        event.id,
        topic,
        key,
        payload,
      ]);
      if (a.kind === 'create') {
        await client.query(
          'insert into releases (id, project_id, tag_name, name, description, milestones, version, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, 1, $7, $7)',
          [id, event.scope.entity_id, a.release.tag, `Release ${a.release.tag}`, DESCRIPTION, '[]', event.occurred_at],
        );
      } else {
        await client.query('update releases set name = $1, version = 2, updated_at = $2 where id = $3', [
          `Release ${a.release.tag} renamed`,
          event.occurred_at,
          id,
        ]);
      }
      await client.query('commit');
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    a.release.id = id;
    producer.send({ topic, acks: -1, messages: [{ key, value: payload }] }).catch(onProduceError);
  };
}

/** The keyset page of the poller, straight from the table. */
function sqlSource(pg: Pool): PageSource<{ at: string; id: string }> {
  return async (after, cursor) => {
    const sql = `select a.payload::text as payload, a.id, to_char(a.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at
      from audit_events a where a.created_at >= $1::timestamptz ${cursor ? 'and (a.created_at, a.id) > ($3::timestamptz, $4::uuid)' : ''}
      order by a.created_at, a.id limit $2`;
    const rows = (
      await pg.query<{ payload: string; id: string; cursor_at: string }>(
        sql,
        cursor ? [after, 100, cursor.at, cursor.id] : [after, 100],
      )
    ).rows;
    const events = rows.map((r) => {
      const e = JSON.parse(r.payload) as { created_at: string; details?: { correlation_id?: string } };
      return { correlationId: e.details?.correlation_id, createdAt: Date.parse(e.created_at) };
    });
    const last = rows[rows.length - 1];
    return { events, next: rows.length === 100 ? { at: last.cursor_at, id: last.id } : undefined };
  };
}

/** Starts e2e-floor-pipeline.ts and resolves when both its consumers have joined their groups. */
async function startConsumers(cfg: FloorConfig): Promise<ChildProcess> {
  const config = {
    brokers: cfg.brokers,
    topic: cfg.topic,
    databaseUrl: databaseUrl(cfg.serverUrl, cfg.database),
    receiverUrl: cfg.receiverUrl,
    groupPrefix: `bench-e2e-floor-${cfg.suffix}`,
    connections: 32,
  };
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'e2e-floor-pipeline.ts')], {
    cwd: join(__dirname, '..', '..'),
    env: { ...process.env, BENCH_FLOOR_CONFIG: JSON.stringify(config) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`floor consumers exited with ${code}: ${err}`)));
  });
  return child;
}

export async function startFloorPipeline(
  cfg: FloorConfig,
  onProduceError: (err: Error) => void,
): Promise<FloorPipeline> {
  await createBaselineDatabase(cfg.serverUrl, cfg.database, cfg.projects);
  const ddl = new Client({ connectionString: databaseUrl(cfg.serverUrl, cfg.database) });
  await ddl.connect();
  await ddl.query(AUDIT_EVENTS_DDL).finally(() => ddl.end());
  const pg = new Pool({ connectionString: databaseUrl(cfg.serverUrl, cfg.database), max: cfg.connections });
  const reads = new Pool({ connectionString: databaseUrl(cfg.serverUrl, cfg.database), max: 1 });
  // An idle connection ended by the server (the database dropped at cleanup) must not crash the bench.
  for (const pool of [pg, reads]) pool.on('error', () => undefined);
  const producer = cfg.kafka.producer({ allowAutoTopicCreation: false });
  await producer.connect();
  const child = await startConsumers(cfg);
  return {
    label: 'floor',
    projects: cfg.projects,
    write: writer(pg, producer, cfg.topic, onProduceError),
    source: sqlSource(reads),
    pid: child.pid,
    pids: { 'floor consumers': child.pid },
    close: async () => {
      if (child.exitCode === null) {
        child.kill('SIGTERM');
        await new Promise((resolve) => child.once('exit', resolve));
      }
      await Promise.all([producer.disconnect(), pg.end(), reads.end()]);
    },
  };
}
