import { INestApplication } from '@nestjs/common';
import { auditEventIdFor } from '@audit/audit-mapping';
import { DomainEvent, DomainEventSchemas, messageKeyFor } from '@audit/contracts';
import {
  dropDatabase,
  releaseCreatedEvent,
  serviceDatabase,
  TEST_JWT_SECRET,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { EntityManager } from '@mikro-orm/postgresql';
import { existsSync, readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Admin, Producer } from 'kafkajs';
import { startRecorder } from '../../test/recorder.int-support';

/*
 * Redelivery against the real Kafka broker and PostgreSQL: the same domain events consumed twice
 * (the consumer group's offsets reset to the beginning, or a message duplicated within one batch)
 * leave exactly one row per audit event, because the audit event id is derived from the domain
 * event id and the audit type (docs/contracts.md, "Audit event").
 */
jest.setTimeout(180_000);

const kafka = testKafka('recorder-redelivery-int');
let producer: Producer;
let admin: Admin;
const databases: string[] = [];

beforeAll(async () => {
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  admin = kafka.admin();
  await Promise.all([producer.connect(), admin.connect()]);
});
afterAll(async () => {
  await Promise.all([producer?.disconnect(), admin?.disconnect()]);
  await Promise.all(databases.map(dropDatabase));
});

async function environment(suffix: string) {
  databases.push(`it_redelivery_${suffix}`);
  return {
    ...(await serviceDatabase('audit_recorder', `it_redelivery_${suffix}`)),
    KAFKA_TOPIC: `it-redelivery-${suffix}`,
    KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
    AUDIT_LOG_FILE: join(tmpdir(), `audit-redelivery-${suffix}`, 'audit_json.log'),
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent' as const,
    CONSUMER_CHUNK_SIZE: '25',
  };
}
type Env = Awaited<ReturnType<typeof environment>>;

const send = (topic: string, events: DomainEvent[]) =>
  producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
  });

const storedIds = async (app: INestApplication): Promise<string[]> => {
  const rows = await app
    .get(EntityManager)
    .fork()
    .execute<Array<{ id: string }>>(
      "select id::text as id from audit_events where event_type <> 'audit_log_checkpoint_created'",
    );
  return rows.map((r) => r.id);
};

const logLines = (env: Env): Array<{ id: string }> =>
  existsSync(env.AUDIT_LOG_FILE)
    ? readFileSync(env.AUDIT_LOG_FILE, 'utf8')
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { id: string; event_type: string })
        // The checkpoints the recorder signs and records itself (one at each graceful stop) are not the test's.
        .filter((l) => l.event_type !== 'audit_log_checkpoint_created')
    : [];

const sumOffsets = (xs: Array<{ offset: string }>) => xs.reduce((n, p) => n + Math.max(0, Number(p.offset)), 0);

async function committedAndEnd(env: Env): Promise<{ committed: number; end: number }> {
  const [offsets] = await admin.fetchOffsets({ groupId: env.KAFKA_GROUP_ID, topics: [env.KAFKA_TOPIC] });
  return { committed: sumOffsets(offsets.partitions), end: sumOffsets(await admin.fetchTopicOffsets(env.KAFKA_TOPIC)) };
}

/** Waits until the group has committed every message of the topic: the recorder has caught up. */
const caughtUp = (env: Env, what: string) =>
  waitFor(
    what,
    async () => {
      const { committed, end } = await committedAndEnd(env);
      return end > 0 && committed === end ? committed : undefined;
    },
    { timeoutMs: 60_000 },
  );

// Projects 29..32, each with its own path, so the messages spread over several keys.
const projectOf = (n: number) => ({ id: 29 + (n % 4), path: `example-group/project-${29 + (n % 4)}` });

function releaseUpdatedEvent(n: number): DomainEvent {
  const project = projectOf(n);
  return DomainEventSchemas.ReleaseUpdated.parse({
    id: randomUUID(),
    type: 'ReleaseUpdated',
    schema_version: 1,
    occurred_at: new Date(Date.UTC(2026, 10, 21, 11, 0, 0, n)).toISOString(),
    aggregate: { type: 'Release', id: String(n), version: 2 },
    actor: { id: 2, name: 'bob', ip_address: '198.51.100.4' },
    scope: { entity_type: 'Project', entity_id: project.id, entity_path: project.path },
    correlation_id: `corr-update-${n}`,
    data: {
      release_id: n,
      project_id: project.id,
      tag_name: `v${n}`,
      name: `Renamed ${n}`,
      changes: { name: { from: `Release ${n}`, to: `Renamed ${n}` }, description: { from: null, to: 'secret' } },
    },
  }) as DomainEvent;
}

function releaseDeletedEvent(n: number): DomainEvent {
  const project = projectOf(n);
  return DomainEventSchemas.ReleaseDeleted.parse({
    id: randomUUID(),
    type: 'ReleaseDeleted',
    schema_version: 1,
    occurred_at: new Date(Date.UTC(2026, 10, 21, 12, 0, 0, n)).toISOString(),
    aggregate: { type: 'Release', id: String(n), version: 3 },
    actor: { id: 3, name: 'carol', ip_address: null },
    scope: { entity_type: 'Project', entity_id: project.id, entity_path: project.path },
    correlation_id: `corr-delete-${n}`,
    data: { release_id: n, project_id: project.id, tag_name: `v${n}`, name: `Renamed ${n}` },
  }) as DomainEvent;
}

const AUDIT_TYPE: Partial<Record<DomainEvent['type'], string>> = {
  ReleaseCreated: 'release_created',
  ReleaseUpdated: 'release_updated',
  ReleaseDeleted: 'release_deleted',
};
const expectedIdOf = (e: DomainEvent): string => auditEventIdFor(e.id, AUDIT_TYPE[e.type] as string);

describe('audit-recorder redelivery (real Kafka and PostgreSQL)', () => {
  it('consumes every domain event a second time after the group offsets are reset, and stores each audit event once', async () => {
    const env = await environment(uniqueSuffix());
    const N = 200;
    const created = Array.from({ length: 140 }, (_, i) =>
      releaseCreatedEvent(i + 1, projectOf(i + 1).id, projectOf(i + 1).path),
    );
    const updated = Array.from({ length: 40 }, (_, i) => releaseUpdatedEvent(i + 1));
    const deleted = Array.from({ length: 20 }, (_, i) => releaseDeletedEvent(i + 1));
    const events = [...created, ...updated, ...deleted];
    expect(events).toHaveLength(N);
    const expected = events.map(expectedIdOf);
    expect(new Set(expected).size).toBe(N);

    let app = await startRecorder(env);
    try {
      for (let i = 0; i < N; i += 50) await send(env.KAFKA_TOPIC, events.slice(i, i + 50));
      const first = await waitFor(
        `all ${N} audit events stored`,
        async () => {
          const ids = await storedIds(app);
          return ids.length >= N ? ids : undefined;
        },
        { timeoutMs: 60_000 },
      );
      expect(first).toHaveLength(N);
      await caughtUp(env, 'the first consumption to commit the whole topic');
    } finally {
      await app.close();
    }
    const linesAfterFirst = logLines(env).length;
    expect(linesAfterFirst).toBe(N);

    // The recorder left the group on close; resetting needs a group without members.
    await waitFor(
      'the consumer group offsets to be reset to the earliest',
      async () => {
        await admin.resetOffsets({ groupId: env.KAFKA_GROUP_ID, topic: env.KAFKA_TOPIC, earliest: true });
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    const reset = await committedAndEnd(env);
    expect(reset.committed).toBe(0);
    // N events, and the checkpoint the recorder signed as it stopped if its relay published it before stopping.
    expect(reset.end).toBeGreaterThanOrEqual(N);
    expect(reset.end).toBeLessThanOrEqual(N + 1);

    app = await startRecorder(env);
    try {
      await caughtUp(env, 'the second consumption to commit the whole topic again');
      const ids = await storedIds(app);
      expect(ids).toHaveLength(N);
      expect(new Set(ids).size).toBe(N);
      expect([...ids].sort()).toEqual([...expected].sort());
      const counts = await app
        .get(EntityManager)
        .fork()
        .execute<Array<{ id: string; n: string }>>(
          'select id::text as id, count(*) as n from audit_events group by id having count(*) <> 1',
        );
      expect(counts).toEqual([]);
      // Nor did the hash chains fork or grow: each chain still holds positions 1..n, once each.
      const chains = await app
        .get(EntityManager)
        .fork()
        .execute<Array<{ chain_id: string; n: string; positions: string; last: string }>>(
          'select chain_id, count(*) as n, count(distinct chain_seq) as positions, max(chain_seq) as last from audit_events group by chain_id',
        );
      expect(chains.length).toBeGreaterThan(0);
      for (const chain of chains) expect([chain.positions, chain.last]).toEqual([chain.n, chain.n]);
    } finally {
      await app.close();
    }
    // Evidence that the events really were consumed a second time: the JSON log is at least once
    // and writes every saved event of a chunk, redelivered or not.
    const lines = logLines(env);
    expect(lines.length).toBeGreaterThanOrEqual(2 * N);
    const perId = new Map<string, number>();
    for (const { id } of lines) perId.set(id, (perId.get(id) ?? 0) + 1);
    expect(expected.filter((id) => (perId.get(id) ?? 0) < 2)).toEqual([]);
  });

  it('stores one row for a domain event duplicated within one batch', async () => {
    const env = await environment(uniqueSuffix());
    const app = await startRecorder(env);
    try {
      const event = releaseCreatedEvent(7);
      const other = releaseUpdatedEvent(8);
      // One produce request, so the duplicates arrive in the same fetch batch and the same chunk.
      await send(env.KAFKA_TOPIC, [event, event, other, event]);
      await caughtUp(env, 'the batch with duplicates to be committed');
      const ids = await storedIds(app);
      expect(ids.sort()).toEqual([expectedIdOf(event), expectedIdOf(other)].sort());
      const rows = await app
        .get(EntityManager)
        .fork()
        .execute<Array<{ n: string }>>('select count(*) as n from audit_events where id = ?', [expectedIdOf(event)]);
      expect(Number(rows[0].n)).toBe(1);
    } finally {
      await app.close();
    }
  });
});
