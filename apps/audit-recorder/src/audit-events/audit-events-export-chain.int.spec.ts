import request from 'supertest';
import { Readable } from 'node:stream';
import { Producer } from 'kafkajs';
import {
  contentMatches,
  ExportFileFormat,
  parseJsonlLine,
  readCsvExport,
  VerificationResult,
  verifyExportStream,
} from '@audit/audit-chain';
import { DomainEvent, messageKeyFor } from '@audit/contracts';
import { APP_CONFIG, Database } from '@audit/platform';
import { bearer, releaseCreatedEvent, testKafka, uniqueSuffix, waitFor } from '@audit/testing';
import type { AuditRecorderConfig } from '../config';
import { Checkpointer } from '../integrity/checkpointer';
import {
  auditEvent,
  insertEvents,
  insertNamespaces,
  Namespace,
  RecorderUnderTest,
  startRecorder,
} from '../../test/audit-events.int-support';
import { AuditEventsExportService } from './audit-events-export.service';

/*
 * Exports carry the hash chain end to end: domain events go through Kafka and the recorder's consumer, which
 * chains them per partition; the checkpointer signs the heads (its own event travels outbox -> Kafka ->
 * consumer too); the export routes serve JSONL and CSV over HTTP; and the offline verifier (verifyExportStream,
 * the core of `npm run audit:verify`) accepts the files, and names the event whose payload was altered in them.
 */
jest.setTimeout(180_000);

const admin = bearer({ sub: '1', name: 'root', admin: true });
const kafka = testKafka('export-chain-int');
let recorder: RecorderUnderTest;
let producer: Producer;
let http: ReturnType<typeof request>;
let config: AuditRecorderConfig;

/** What `npm run audit:verify -- --export FILE --public-key KEY` says of the file `text`. */
const verifyFile = (text: string, format: ExportFileFormat): Promise<VerificationResult> =>
  verifyExportStream(Readable.from([text]), { format, publicKey: config.signingKey.publicKey, mode: 'full' });

const count = async (where = 'true'): Promise<number> => {
  const [row] = await recorder.app
    .get(Database)
    .autocommit.query<{ n: number }>(`select count(*)::int as n from audit_events where ${where}`);
  return row.n;
};

async function send(topic: string, events: DomainEvent[]): Promise<void> {
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
  });
}

/** The body of a download, as text. */
const download = (path: string) =>
  http
    .get(path)
    .set('Authorization', admin)
    .buffer(true)
    .parse((res, done) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => done(null, text));
    });

const releases = (from: number, to: number) =>
  Array.from({ length: to - from + 1 }, (_, i) =>
    releaseCreatedEvent(from + i, 20 + ((from + i) % 5), `acme/p${(from + i) % 5}`),
  );

beforeAll(async () => {
  recorder = await startRecorder(uniqueSuffix(), { AUDIT_CHECKPOINT_INTERVAL_MS: '3600000' });
  http = request(recorder.app.getHttpServer());
  config = recorder.app.get<AuditRecorderConfig>(APP_CONFIG);
  const projects = [0, 1, 2, 3, 4].map((i): Namespace => ({
    kind: 'Project',
    id: 20 + i,
    full_path: `acme/p${i}`,
    parent_id: 100,
  }));
  await insertNamespaces(recorder.app, [{ kind: 'Group', id: 100, full_path: 'acme', parent_id: null }, ...projects]);
  producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
  await producer.connect();
  // Five projects, so the events are keyed to several partitions: several chains.
  await send(config.KAFKA_TOPIC, releases(1, 40));
  await waitFor('40 events to be stored', async () => (await count()) >= 40 || undefined, { timeoutMs: 60_000 });
  await recorder.app.get(Checkpointer).checkpoint('interval');
  await send(config.KAFKA_TOPIC, releases(41, 45)); // after the checkpoint: linked, not yet signed
  await waitFor(
    'the checkpoint event and the last events to be stored',
    async () =>
      ((await count(`event_type = 'audit_log_checkpoint_created'`)) === 1 && (await count()) >= 46) || undefined,
    { timeoutMs: 60_000 },
  );
});

afterAll(async () => {
  await producer?.disconnect();
  await recorder?.close();
});

/** Replaces the first occurrence of `from` after `anchor` (where an event's line starts). */
function alter(text: string, anchor: string, from: string, to: string): string {
  const at = text.indexOf(anchor);
  const end = text.indexOf(from, at);
  expect([at, end].every((i) => i >= 0)).toBe(true);
  return text.slice(0, end) + to + text.slice(end + from.length);
}

describe('exports with the hash chain (real Kafka, consumer and PostgreSQL)', () => {
  it('serves JSONL that the offline verifier accepts, and that names an event altered in the file', async () => {
    // Nothing is in flight before the first export (its own audit events come after it).
    const stored = await count();
    const res = await download('/api/v4/audit_events/export?format=jsonl&sort=asc').expect(200);
    expect(res.headers['content-type']).toBe('application/x-ndjson');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="audit_events_instance_\d{8}T\d{6}Z\.jsonl"$/,
    );
    const text = res.body as string;
    const lines = text.split('\n').filter(Boolean);
    expect(lines).toHaveLength(stored);

    // Each line is the stored text plus its chain fields, exactly as the table holds them.
    const first = parseJsonlLine(lines[0]);
    const [row] = await recorder.app
      .get(Database)
      .autocommit.query<{ text: string; chain_id: string; chain_seq: string; prev_hash: string; hash: string }>(
        `select payload::text as text, chain_id, chain_seq, encode(prev_hash, 'hex') as prev_hash, encode(hash, 'hex') as hash
           from audit_events where id = $1`,
        [first.row.id],
      );
    expect(first.row).toEqual({
      id: first.row.id,
      chain: row.chain_id,
      seq: Number(row.chain_seq),
      prevHash: row.prev_hash,
      hash: row.hash,
      text: row.text,
    });

    const result = await verifyFile(text, 'jsonl');
    expect(result).toMatchObject({
      valid: true,
      events_checked: stored,
      first_broken_event_id: null,
      checkpoints_checked: 1,
      latest_checkpoint: { sequence: 1 },
    });
    // The 5 events sent after the checkpoint, and the checkpoint's own event, come after the signed heads.
    expect(result.unsigned_events).toBeGreaterThanOrEqual(6);
    const chains = new Set(lines.map((l) => parseJsonlLine(l).row.chain));
    expect(chains.size).toBeGreaterThan(1);

    const victim = JSON.parse(lines[10]) as { id: string };
    const altered = alter(text, `{"id":"${victim.id}"`, '"author_name":"alice"', '"author_name":"mallory"');
    expect(await verifyFile(altered, 'jsonl')).toMatchObject({
      valid: false,
      first_broken_event_id: victim.id,
      reason: expect.stringMatching(/does not match its hash/),
    });
  });

  it('serves CSV with the chain columns, on the new route and on export.csv, that the verifier accepts', async () => {
    for (const path of ['/api/v4/audit_events/export?sort=asc', '/api/v4/audit_events/export.csv?sort=asc']) {
      const res = await download(path).expect(200);
      expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
      const text = res.body as string;
      expect(text.slice(0, text.indexOf('\r\n'))).toBe(
        'ID,Author ID,Author Name,Entity ID,Entity Type,Entity Path,Target ID,Target Type,Target Details,Action,IP Address,Created At (UTC),Chain,Chain Sequence,Previous Hash,Hash,Event JSON',
      );
      // The earlier exports' own audit events land whenever they do: the file is what was stored when it was read.
      const records = [];
      for await (const e of readCsvExport(Readable.from([text]))) records.push(e);
      expect(records.length).toBeGreaterThanOrEqual(46);
      expect(await verifyFile(text, 'csv')).toMatchObject({
        valid: true,
        events_checked: records.length,
        checkpoints_checked: 1,
      });
      // In the CSV the stored text is a quoted field: its quotes are doubled.
      const victim = text.split('\r\n')[5].split(',')[0];
      const altered = alter(text, `\r\n${victim},`, '""author_name"":""alice""', '""author_name"":""mallory""');
      expect(await verifyFile(altered, 'csv')).toMatchObject({
        valid: false,
        first_broken_event_id: victim,
      });
    }
  });

  it('serves a project as JSONL and CSV whose every event passes its own content check', async () => {
    const jsonl = await download('/api/v4/projects/21/audit_events/export?format=jsonl').expect(200);
    expect(jsonl.headers['content-disposition']).toMatch(/filename="audit_events_project_21_\d{8}T\d{6}Z\.jsonl"/);
    const rows = (jsonl.body as string)
      .split('\n')
      .filter(Boolean)
      .map((l) => parseJsonlLine(l));
    expect(rows.length).toBeGreaterThanOrEqual(9);
    expect(rows.every((r) => r.event?.['entity_id'] === 21 && contentMatches(r.row))).toBe(true);
    const csv = await download('/api/v4/projects/21/audit_events/export?format=csv').expect(200);
    const read = [];
    for await (const e of readCsvExport(Readable.from([csv.body as string]))) read.push(e);
    // The same stored events with the same chain fields; the JSONL export's own audit events (of this project)
    // may have been stored in between.
    const releasesOf = (events: typeof rows) =>
      events.filter((e) => e.event?.['event_type'] === 'release_created').map((e) => e.row);
    expect(releasesOf(read)).toEqual(releasesOf(rows));
    expect(read.every((e) => contentMatches(e.row))).toBe(true);
  });

  it('records the format of the export in its own audit events', async () => {
    const events = await waitFor('the JSONL export to be recorded', async () => {
      const rows = await recorder.app.get(Database).autocommit.query<{ message: string }>(
        `select payload->'details'->>'custom_message' as message from audit_events
          where event_type in ('audit_events_export_started', 'audit_events_exported') and payload::text like '%JSONL%'`,
      );
      return rows.length >= 2 ? rows.map((r) => r.message) : undefined;
    });
    expect(events).toEqual(
      expect.arrayContaining([
        'Started an export of audit events as JSONL',
        expect.stringMatching(/^Exported \d+ audit events as JSONL$/),
      ]),
    );
  });

  it('answers a bad format with a problem+json naming it, on the new routes only', async () => {
    const cases: Array<[string, RegExp]> = [
      ['/api/v4/audit_events/export?format=xml', /format must be csv or jsonl/],
      ['/api/v4/groups/acme/audit_events/export?format=json', /format must be csv or jsonl/],
      ['/api/v4/projects/21/audit_events/export?format=csv&format=jsonl', /format must be given once/],
      [
        '/api/v4/audit_events/export?format=xml&sort=up',
        /^(?=.*format must be csv or jsonl)(?=.*sort must be asc or desc)/,
      ],
      ['/api/v4/audit_events/export.csv?format=jsonl', /format is not a known field/],
    ];
    for (const [path, detail] of cases) {
      const res = await http.get(path).set('Authorization', admin);
      expect([path, res.status, res.headers['content-type']]).toEqual([
        path,
        400,
        expect.stringMatching(/^application\/problem\+json/),
      ]);
      expect(res.body.detail).toMatch(detail);
      expect(JSON.stringify(res.body)).toContain('"format"');
    }
    // The export route does not shadow single events.
    const [{ id }] = await recorder.app
      .get(Database)
      .autocommit.query<{ id: string }>('select id from audit_events limit 1');
    await http.get(`/api/v4/audit_events/${id}`).set('Authorization', admin).expect(200);
  });
  it('exports the events stored when it starts: rows appended while it streams are left out, so the file stays whole', async () => {
    const project: Namespace = { kind: 'Project', id: 20, full_path: 'acme/p0', parent_id: 100 };
    const at = (ms: number) => new Date(Date.UTC(2025, 0, 1) + ms).toISOString();
    const bulk = Array.from({ length: 2500 }, (_, i) => auditEvent({ entity: project, createdAt: at(i) }));
    await insertEvents(recorder.app, bulk, 'bulk/0');
    const batches = jest.spyOn(recorder.app.get(AuditEventsExportService), 'batch');
    const file = await recorder.app
      .get(AuditEventsExportService)
      .open({ scope: { kind: 'instance' }, filters: {}, sort: 'asc' }, 'jsonl');
    const chunks = file.stream[Symbol.asyncIterator]();
    let text = ((await chunks.next()).value as Buffer).toString();
    // The first batch, and the one read ahead while the first is sent: rows 2001.. are not read yet.
    expect(batches).toHaveBeenCalledTimes(2);
    // Stored while it streams: an event whose created_at the export has read past (a late one), then the next
    // event of its chain, in the part not read yet. Without the cut the second is in the file and the first is not.
    const late = auditEvent({ entity: project, createdAt: at(0) });
    const next = auditEvent({ entity: project, createdAt: at(3000) });
    await insertEvents(recorder.app, [late, next], 'bulk/0');
    for (let chunk = await chunks.next(); !chunk.done; chunk = await chunks.next())
      text += (chunk.value as Buffer).toString();
    batches.mockRestore();
    const lines = text.split('\n').filter(Boolean);
    expect(lines.length).toBeGreaterThanOrEqual(2500 + 46);
    expect([text.includes(late.id), text.includes(next.id)]).toEqual([false, false]);
    expect(file.rowCount()).toBe(lines.length);
    expect(await verifyFile(text, 'jsonl')).toMatchObject({ valid: true, events_checked: lines.length });
  });
});
