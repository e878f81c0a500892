/**
 * The consuming half of the end-to-end floor (e2e-floor.ts), as its own process like the services:
 * a "recorder" consumer group appending each fetched batch of audit events with one statement to its
 * partition's hash chain (links computed per batch, as the recorder does; support/audit-chain.ts), and
 * a "streamer" consumer group POSTing each audit event, signed as the streamer signs it, to the
 * receiver; both commit their offsets after the batch. No schema check, no DLQ, no delivery records.
 *   BENCH_FLOOR_CONFIG='{"brokers":[...],"topic":"t","databaseUrl":"postgres://…","receiverUrl":"http://…","groupPrefix":"g","connections":32}'
 * Prints `ready` once both consumers joined their groups; SIGTERM disconnects them and exits.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { chainName } from '../../libs/audit/chain/src';
import { AuditEvent, DomainEvent } from '../../libs/contracts/src';
import { toAuditEvents } from '../../libs/audit/mapping/src';
import { Consumer, EachBatchPayload, Kafka, logLevel } from 'kafkajs';
import { Pool as PgPool } from 'pg';
import { Pool } from 'undici';
import { ChainAppender } from './audit-chain';

interface Config {
  brokers: string[];
  topic: string;
  databaseUrl: string;
  receiverUrl: string;
  groupPrefix: string;
  connections: number;
}

const cfg = JSON.parse(process.env['BENCH_FLOOR_CONFIG'] ?? '') as Config;
const kafka = new Kafka({ brokers: cfg.brokers, clientId: 'bench-e2e-floor', logLevel: logLevel.NOTHING });

const auditEventsOf = (batch: EachBatchPayload['batch']): AuditEvent[] =>
  batch.messages.flatMap((m) => toAuditEvents(JSON.parse(m.value?.toString() ?? 'null') as DomainEvent));

async function commit(payload: EachBatchPayload, consumer: Consumer): Promise<void> {
  const last = payload.batch.messages[payload.batch.messages.length - 1].offset;
  payload.resolveOffset(last);
  await consumer.commitOffsets([
    { topic: payload.batch.topic, partition: payload.batch.partition, offset: (BigInt(last) + 1n).toString() },
  ]);
}

function recorder(pg: PgPool, consumer: Consumer) {
  // Partitions are consumed concurrently, but each by one handler at a time: one writer per chain.
  const chains = new ChainAppender(pg);
  return async (payload: EachBatchPayload): Promise<void> => {
    if (payload.batch.messages.length === 0) return;
    const cols: unknown[][] = Array.from({ length: 11 }, () => []);
    for (const e of auditEventsOf(payload.batch)) {
      const row = [
        e.id,
        e.event_type,
        e.author_id,
        e.author_name,
        e.entity_type,
        e.entity_id,
        e.entity_path,
        e.target_type,
        e.target_id,
        e.created_at,
        JSON.stringify(e),
      ];
      row.forEach((v, i) => cols[i].push(v));
    }
    await chains.append(chainName(payload.batch.topic, payload.batch.partition), cols);
    await commit(payload, consumer);
  };
}

function streamer(http: Pool, path: string, consumer: Consumer) {
  const token = randomBytes(12).toString('hex');
  const secret = randomBytes(32);
  const post = async (e: AuditEvent) => {
    const body = JSON.stringify(e);
    const timestamp = Math.floor(Date.now() / 1000);
    const signature = createHmac('sha256', secret).update(`${e.id}.${timestamp}.${body}`).digest('base64');
    const res = await http.request({
      method: 'POST',
      path,
      body,
      headers: {
        'Content-Type': 'application/json',
        'X-Gitlab-Event-Streaming-Token': token,
        'X-Gitlab-Audit-Event-Type': e.event_type,
        'webhook-id': e.id,
        'webhook-timestamp': String(timestamp),
        'webhook-signature': `v1,${signature}`,
      },
    });
    await res.body.dump();
    if (res.statusCode >= 300) throw new Error(`receiver answered ${res.statusCode}`);
  };
  return async (payload: EachBatchPayload): Promise<void> => {
    if (payload.batch.messages.length === 0) return;
    await Promise.all(auditEventsOf(payload.batch).map(post));
    await commit(payload, consumer);
  };
}

async function join(
  group: string,
  handler: (consumer: Consumer) => (payload: EachBatchPayload) => Promise<void>,
): Promise<Consumer> {
  const consumer = kafka.consumer({ groupId: `${cfg.groupPrefix}-${group}`, allowAutoTopicCreation: false });
  const joined = new Promise<void>((resolve) => consumer.on(consumer.events.GROUP_JOIN, () => resolve()));
  consumer.on(consumer.events.CRASH, (e) => {
    process.stderr.write(`${group} consumer crashed: ${e.payload.error.message}\n`);
    process.exit(1);
  });
  await consumer.connect();
  await consumer.subscribe({ topic: cfg.topic, fromBeginning: true });
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    partitionsConsumedConcurrently: 3,
    eachBatch: handler(consumer),
  });
  await joined;
  return consumer;
}

async function main(): Promise<void> {
  // One connection per partition consumed at once, as the recorder has.
  const pg = new PgPool({ connectionString: cfg.databaseUrl, max: 3 });
  pg.on('error', () => undefined); // an idle connection ended by the server at cleanup
  const { origin, pathname } = new URL(cfg.receiverUrl);
  const http = new Pool(origin, { connections: cfg.connections, pipelining: 1, keepAliveTimeout: 30_000 });
  const consumers = await Promise.all([
    join('recorder', (c) => recorder(pg, c)),
    join('streamer', (c) => streamer(http, pathname, c)),
  ]);
  process.stdout.write('ready\n');
  process.once('SIGTERM', () => {
    void Promise.all(consumers.map((c) => c.disconnect()))
      .then(() => Promise.all([pg.end(), http.close()]))
      .finally(() => process.exit(0));
  });
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
