import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { AuditEvent } from '@audit/contracts';
import { Database, installOpenApi } from '@audit/platform';
import { dropDatabase, serviceDatabase, TEST_JWT_SECRET } from '@audit/testing';
import { AppModule } from '../src/app/app.module';
import { ChainWriter } from '../src/integrity/chain-writer';
import { loadAuditRecorderConfig } from '../src/config';
import { recorderTransport } from '../src/consumer/recorder.transport';

/*
 * Shared by the integration tests of the query API and the export: the recorder in-process on its
 * own database and topic, and audit events written straight into the table (the query side does
 * not care how they got there; the consumer has its own tests).
 */

export interface RecorderUnderTest {
  app: INestApplication;
  database: string;
  close(): Promise<void>;
}

export async function startRecorder(suffix: string, env: Record<string, string> = {}): Promise<RecorderUnderTest> {
  const database = `it_audit_query_${suffix}`;
  const config = loadAuditRecorderConfig({
    ...(await serviceDatabase('audit_recorder', database)),
    KAFKA_TOPIC: `it-audit-query-${suffix}`,
    KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
    AUDIT_LOG_FILE: join(tmpdir(), `audit-${suffix}`, 'audit_json.log'),
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    ...env,
  });
  const app = await NestFactory.create(AppModule.forRoot(config), { logger: false });
  installOpenApi(app, 'audit-recorder', 'test');
  // The consumer too, as main.ts runs it: the export's own audit events travel outbox -> Kafka -> consumer.
  app.connectMicroservice({ strategy: recorderTransport(app, config) });
  await app.listen(0, '127.0.0.1');
  await app.startAllMicroservices();
  return {
    app,
    database,
    close: async () => {
      await app.close();
      await dropDatabase(database);
    },
  };
}

export interface Namespace {
  kind: 'Group' | 'Project';
  id: number;
  full_path: string;
  parent_id: number | null;
}

export async function insertNamespaces(app: INestApplication, namespaces: Namespace[]): Promise<void> {
  await app.get(Database).autocommit.query(
    `insert into namespaces (kind, id, full_path, parent_id)
     select kind, id, full_path, parent_id from json_to_recordset($1::json) as x(kind text, id bigint, full_path text, parent_id bigint)`,
    [JSON.stringify(namespaces)],
  );
}

/**
 * Through the consumer's own append (chain `chain`, as if consumed from that partition), so rows look exactly
 * like the consumer's, chain fields included.
 */
export async function insertEvents(app: INestApplication, events: AuditEvent[], chain = 'test/0'): Promise<void> {
  for (let i = 0; i < events.length; i += 1000) {
    const slice = events.slice(i, i + 1000);
    await app.get(ChainWriter).append(
      chain,
      slice,
      slice.map((e) => JSON.stringify(e)),
    );
  }
}

export interface EventSpec {
  entity: Namespace;
  createdAt: string;
  eventType?: string;
  authorId?: number;
  authorName?: string;
  targetType?: string;
  targetId?: number | null;
  targetDetails?: string;
  message?: string;
  ipAddress?: string | null;
}

export function auditEvent(spec: EventSpec): AuditEvent {
  const authorName = spec.authorName ?? `user${spec.authorId ?? 1}`;
  const target = {
    target_id: spec.targetId === undefined ? 7 : spec.targetId,
    target_type: spec.targetType ?? 'Release',
    target_details: spec.targetDetails ?? 'v1.0',
  };
  const ip = spec.ipAddress === undefined ? '203.0.113.7' : spec.ipAddress;
  return {
    id: randomUUID(),
    author_id: spec.authorId ?? 1,
    entity_id: spec.entity.id,
    entity_type: spec.entity.kind,
    details: {
      author_name: authorName,
      ...target,
      custom_message: spec.message ?? 'Created Release v1.0',
      ip_address: ip,
      entity_path: spec.entity.full_path,
    },
    ip_address: ip,
    author_name: authorName,
    entity_path: spec.entity.full_path,
    target_details: target.target_details,
    created_at: spec.createdAt,
    target_type: target.target_type,
    target_id: target.target_id,
    event_type: spec.eventType ?? 'release_created',
  };
}

/** The order of the API: created_at, then id (PostgreSQL compares uuids as their lowercase hex). */
export function sorted(events: AuditEvent[], sort: 'asc' | 'desc'): AuditEvent[] {
  const sign = sort === 'asc' ? 1 : -1;
  const compare = (x: string, y: string) => (x < y ? -1 : x > y ? 1 : 0);
  return [...events].sort((a, b) => sign * (compare(a.created_at, b.created_at) || compare(a.id, b.id)));
}

/** Path and query of a Link rel="next" header, or undefined on the last page. */
export function nextLink(link: string | undefined): string | undefined {
  const match = link ? /^<([^>]+)>; rel="next"$/.exec(link) : null;
  if (!match) return undefined;
  // Relative (path-absolute) unless PUBLIC_URL is configured.
  const url = new URL(match[1], 'http://relative.invalid');
  return `${url.pathname}${url.search}`;
}
