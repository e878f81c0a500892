/**
 * The durable baseline of the streamer benchmark, as its own process (like the streamer): bare code,
 * no framework, doing the streamer's durable work and nothing more.
 *  - a kafkajs consumer (one group, every partition consumed at once) reads the topic's
 *    ReleaseCreated envelopes and maps them with the platform's own mapping (toAuditEvents);
 *  - per fetched batch, once the local queue has room (at most `queueLimit` deliveries waiting, as
 *    the streamer's worker bounds its queue at DELIVERY_CONCURRENCY × 8), one autocommitted statement
 *    inserts one `deliveries` row per (audit event, destination) with its payload (unique key: a
 *    redelivered message creates nothing), synchronously committed; only then are the batch's offsets
 *    committed;
 *  - `connections` workers per destination POST each new delivery (streamer-http.ts: undici, the
 *    streamer's request, signed, guarded DNS lookup, same timeouts);
 *  - each outcome is recorded on its row (status delivered/failed, attempts + 1, status code, error,
 *    delivered_at), buffered and written in batches of up to 500 or after 5 ms, one statement each,
 *    on a connection with asynchronous commit (as the streamer records outcomes: losing one means a
 *    redelivery, never a loss).
 * Left out, being what the streamer adds around that work: Nest, config, schema checks, destination
 * lookup and filters (every event goes to the `destinations` given), namespaces, leases and claims,
 * retries and backoff, destination health, the DLQ, the attempt log, pruning, the API.
 *   BENCH_DURABLE_CONFIG='{"brokers":[...],"topic":"t","groupId":"g","databaseUrl":"postgres://…","destinations":[{"id":1,"url":"http://…"}],"partitions":3,"queueLimit":1024,"connections":32,"timeoutMs":10000,"allowedHosts":["127.0.0.1"]}' node -r @swc-node/register bench/support/streamer-durable.ts
 * Prints `ready` once the consumer joined its group; on SIGTERM stops consuming, lets the queued
 * deliveries finish, writes the last outcomes, prints one JSON line with its figures and exits.
 */
import { randomBytes } from 'node:crypto';
import { Consumer, EachBatchPayload, Kafka, logLevel } from 'kafkajs';
import { Client, Pool as PgPool } from 'pg';
import { AuditEvent, DomainEvent } from '../../libs/contracts/src';
import { toAuditEvents } from '../../libs/audit/mapping/src';
import { databaseUrl } from './baseline';
import { createPoster, HttpOptions, Poster, signedHeaders } from './streamer-http';

export interface DurableConfig extends HttpOptions {
  brokers: string[];
  topic: string;
  groupId: string;
  databaseUrl: string;
  destinations: Array<{ id: number; url: string }>;
  partitions: number;
  queueLimit: number;
}

export interface DurableResult {
  events: number;
  inserted: number;
  delivered: number;
  failed: number;
  errorSamples: string[];
  insertStatements: number;
  outcomeStatements: number;
  /** From `ready` to SIGTERM. */
  elapsedS: number;
  cpuS: number;
}

/**
 * The scratch table: what a durable delivery needs (payload to send again, the unique key that makes
 * a redelivered message harmless, the outcome) and the one index a restart needs to find what is
 * still undelivered. The streamer's own table (its migrations) has more columns and indexes: that is
 * part of what the ratio measures.
 */
export const DURABLE_DDL = `
  create table deliveries (
    id bigserial primary key,
    destination_id integer not null,
    audit_event_id uuid not null,
    event_type text not null,
    payload json not null,
    status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
    attempts integer not null default 0,
    last_status_code integer null,
    last_error text null,
    created_at timestamptz not null default now(),
    delivered_at timestamptz null,
    constraint deliveries_destination_event_key unique (destination_id, audit_event_id)
  );
  create index deliveries_undelivered on deliveries (destination_id, id) where status <> 'delivered';`;

/** Creates the baseline's scratch database (the caller drops it) with DURABLE_DDL. */
export async function createDurableDatabase(serverUrl: string, name: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`invalid database name: ${name}`);
  const admin = new Client({ connectionString: databaseUrl(serverUrl, 'postgres') });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE "${name}"`);
  } finally {
    await admin.end();
  }
  const client = new Client({ connectionString: databaseUrl(serverUrl, name) });
  await client.connect();
  try {
    await client.query(DURABLE_DDL);
  } finally {
    await client.end();
  }
}

/** Rows per status, and attempts, as the baseline left them (the bench checks every delivery was recorded). */
export async function durableCounts(url: string): Promise<Record<string, number>> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    const rows = await client.query<{ status: string; n: string; attempts: string }>(
      'select status, count(*) as n, sum(attempts) as attempts from deliveries group by status',
    );
    const out: Record<string, number> = { pending: 0, delivered: 0, failed: 0, attempts: 0 };
    for (const r of rows.rows) {
      out[r.status] = Number(r.n);
      out['attempts'] += Number(r.attempts);
    }
    return out;
  } finally {
    await client.end();
  }
}

const INSERT = `insert into deliveries (destination_id, audit_event_id, event_type, payload)
  select d.id, e.id, e.event_type, e.payload
    from rows from (unnest($1::uuid[]), unnest($2::text[]), json_array_elements($3::json)) with ordinality as e(id, event_type, payload, ord)
    cross join unnest($4::int[]) as d(id)
   order by e.ord, d.id
  on conflict (destination_id, audit_event_id) do nothing
  returning id, destination_id, audit_event_id`;

const RECORD = `update deliveries d
     set status = case when o.ok then 'delivered' else 'failed' end,
         attempts = d.attempts + 1,
         last_status_code = o.status_code,
         last_error = o.error,
         delivered_at = case when o.ok then now() else d.delivered_at end
    from unnest($1::bigint[], $2::int[], $3::text[], $4::boolean[]) as o(id, status_code, error, ok)
   where d.id = o.id`;

const FLUSH_SIZE = 500;
const FLUSH_DELAY_MS = 5;

interface Delivery {
  id: number;
  auditEventId: string;
  eventType: string;
  body: string;
}

interface Outcome {
  id: number;
  statusCode: number | null;
  error: string | null;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env['BENCH_DURABLE_CONFIG'] ?? '') as DurableConfig;
  const destinationIds = cfg.destinations.map((d) => d.id);
  // Inserts: one connection per partition consumed at once, synchronous commit (they precede the offset commit).
  const writes = new PgPool({ connectionString: cfg.databaseUrl, max: cfg.partitions });
  // Outcomes: asynchronous commit; one flush at a time.
  const outcomes = new PgPool({ connectionString: cfg.databaseUrl, max: 1, options: '-c synchronous_commit=off' });
  const token = randomBytes(12).toString('hex');
  const secret = randomBytes(32);
  const figures = { events: 0, inserted: 0, delivered: 0, failed: 0, insertStatements: 0, outcomeStatements: 0 };
  const errorSamples: string[] = [];

  // --- outcomes, batched ---
  let buffer: Outcome[] = [];
  let timer: NodeJS.Timeout | null = null;
  let flushing: Promise<void> = Promise.resolve();
  const flush = (): Promise<void> => {
    if (timer) clearTimeout(timer);
    timer = null;
    const batch = buffer.sort((a, b) => a.id - b.id);
    buffer = [];
    if (batch.length === 0) return flushing;
    flushing = flushing
      .then(async () => {
        figures.outcomeStatements += 1;
        await outcomes.query(RECORD, [
          batch.map((o) => o.id),
          batch.map((o) => o.statusCode),
          batch.map((o) => o.error),
          batch.map((o) => o.error === null),
        ]);
      })
      .catch((err: Error) => {
        // The rows stay pending: the bench's count of recorded outcomes shows it.
        if (errorSamples.length < 5) errorSamples.push(`recording outcomes: ${err.message}`);
      });
    return flushing;
  };
  const record = (o: Outcome): void => {
    buffer.push(o);
    if (buffer.length >= FLUSH_SIZE) void flush();
    else timer ??= setTimeout(() => void flush(), FLUSH_DELAY_MS);
  };

  // --- delivery: a queue and `connections` workers per destination ---
  let queued = 0;
  let roomWaiters: Array<() => void> = [];
  let stopping = false;
  const lanes = cfg.destinations.map((d) => {
    const poster: Poster = createPoster('undici', d.url, cfg);
    const queue: Delivery[] = [];
    let idle: Array<() => void> = [];
    const worker = async (): Promise<void> => {
      for (;;) {
        const delivery = queue.shift();
        if (!delivery) {
          if (stopping) return;
          await new Promise<void>((resolve) => idle.push(resolve));
          continue;
        }
        queued -= 1;
        if (queued < cfg.queueLimit && roomWaiters.length > 0) {
          const waiters = roomWaiters;
          roomWaiters = [];
          for (const wake of waiters) wake();
        }
        const body = delivery.body;
        const res = await poster.post(
          signedHeaders(secret, token, delivery.auditEventId, delivery.eventType, body),
          body,
        );
        if (res.error === null) figures.delivered += 1;
        else {
          figures.failed += 1;
          if (errorSamples.length < 5) errorSamples.push(res.error);
        }
        record({ id: delivery.id, statusCode: res.statusCode, error: res.error });
      }
    };
    const workers = Array.from({ length: cfg.connections }, worker);
    return {
      id: d.id,
      poster,
      workers,
      offer(ds: Delivery[]) {
        queue.push(...ds);
        queued += ds.length;
        const wake = idle;
        idle = [];
        for (const w of wake) w();
      },
      stop() {
        const wake = idle;
        idle = [];
        for (const w of wake) w();
      },
    };
  });
  const laneOf = new Map(lanes.map((l) => [l.id, l]));

  // --- consuming ---
  const kafka = new Kafka({ brokers: cfg.brokers, clientId: 'bench-streamer-durable', logLevel: logLevel.NOTHING });
  const consumer: Consumer = kafka.consumer({ groupId: cfg.groupId, allowAutoTopicCreation: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  consumer.on(consumer.events.CRASH, (e) => {
    process.stderr.write(`durable baseline consumer crashed: ${e.payload.error.message}\n`);
    process.exit(1);
  });
  const handle = async ({ batch, resolveOffset, heartbeat, isRunning }: EachBatchPayload): Promise<void> => {
    if (batch.messages.length === 0) return;
    const events: AuditEvent[] = batch.messages
      .flatMap((m) => toAuditEvents(JSON.parse(m.value?.toString() ?? 'null') as DomainEvent))
      .filter((e) => e.event_type === 'release_created');
    figures.events += events.length;
    // Room first, as the streamer waits for room in its worker's queue before inserting.
    while (queued >= cfg.queueLimit && isRunning()) {
      await new Promise<void>((resolve) => {
        roomWaiters.push(resolve);
        setTimeout(resolve, 1000);
      });
      await heartbeat();
    }
    let created: Array<{ id: string; destination_id: number; audit_event_id: string }> = [];
    const bodies = events.map((e) => JSON.stringify(e));
    if (events.length > 0) {
      figures.insertStatements += 1;
      created = (
        await writes.query<{ id: string; destination_id: number; audit_event_id: string }>(INSERT, [
          events.map((e) => e.id),
          events.map((e) => e.event_type),
          `[${bodies.join(',')}]`,
          destinationIds,
        ])
      ).rows;
    }
    // The rows are durable: the batch's offsets may be committed.
    const last = batch.messages[batch.messages.length - 1].offset;
    resolveOffset(last);
    await consumer.commitOffsets([
      { topic: batch.topic, partition: batch.partition, offset: (BigInt(last) + 1n).toString() },
    ]);
    figures.inserted += created.length;
    const byId = new Map(events.map((e, i) => [e.id, { event: e, body: bodies[i] }]));
    const perLane = new Map<number, Delivery[]>();
    for (const row of created) {
      const { event, body } = byId.get(row.audit_event_id) as { event: AuditEvent; body: string };
      const list = perLane.get(row.destination_id) ?? [];
      list.push({ id: Number(row.id), auditEventId: event.id, eventType: event.event_type, body });
      perLane.set(row.destination_id, list);
    }
    for (const [id, ds] of perLane) laneOf.get(id)?.offer(ds);
  };
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: cfg.partitions,
    eachBatch: handle,
  });
  await joined;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  process.stdout.write('ready\n');

  process.once('SIGTERM', () => {
    void (async () => {
      const elapsedS = (performance.now() - t0) / 1000;
      const cpu = process.cpuUsage(cpu0);
      await consumer.disconnect();
      stopping = true;
      for (const lane of lanes) lane.stop();
      await Promise.all(lanes.flatMap((l) => l.workers));
      await flush();
      await Promise.all(lanes.map((l) => l.poster.close()));
      await Promise.all([writes.end(), outcomes.end()]);
      const result: DurableResult = { ...figures, errorSamples, elapsedS, cpuS: (cpu.user + cpu.system) / 1e6 };
      process.stdout.write(`${JSON.stringify(result)}\n`);
      process.exit(0);
    })().catch((err: Error) => {
      process.stderr.write(`${err.stack ?? err.message}\n`);
      process.exit(1);
    });
  });
}

if (require.main === module)
  main().catch((err: Error) => {
    process.stderr.write(`${err.stack ?? err.message}\n`);
    process.exit(1);
  });
