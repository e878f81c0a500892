import request from 'supertest';
import { ClientRequest, get } from 'node:http';
import { AuditEvent } from '@audit/contracts';
import { Database, databaseUrl } from '@audit/platform';
import { bearer, TEST_DATABASE_URL, uniqueSuffix, waitFor } from '@audit/testing';
import { Client } from 'pg';
import { AuditEventsExportService, EXPORT_BATCH_SIZE } from './audit-events-export.service';
import { csvField } from './audit-events.csv';
import {
  auditEvent,
  insertEvents,
  insertNamespaces,
  Namespace,
  RecorderUnderTest,
  sorted,
  startRecorder,
} from '../../test/audit-events.int-support';

/*
 * The CSV exports against the real PostgreSQL: exact content and escaping, filters, permissions,
 * errors before the first byte, a large export streamed whole, and a client that goes away.
 * (The chain columns and JSONL, verified end to end: audit-events-export-chain.int.spec.ts.)
 */
jest.setTimeout(180_000);

const HEADER =
  'ID,Author ID,Author Name,Entity ID,Entity Type,Entity Path,Target ID,Target Type,Target Details,Action,IP Address,Created At (UTC),Chain,Chain Sequence,Previous Hash,Hash,Event JSON';
const acme: Namespace = { kind: 'Group', id: 100, full_path: 'acme', parent_id: null };
const web: Namespace = { kind: 'Project', id: 10, full_path: 'acme/web', parent_id: 100 };
const other: Namespace = { kind: 'Group', id: 200, full_path: 'other', parent_id: null };
const big: Namespace = { kind: 'Project', id: 30, full_path: 'other/big', parent_id: 200 };
const huge: Namespace = { kind: 'Project', id: 31, full_path: 'other/huge', parent_id: 200 };
const held: Namespace = { kind: 'Project', id: 32, full_path: 'other/held', parent_id: 200 };

const at = (minute: number) => new Date(Date.UTC(2026, 10, 21, 10, minute)).toISOString();
const plain = auditEvent({
  entity: web,
  createdAt: at(1),
  authorId: 5,
  authorName: 'alice',
  targetId: 7,
  targetDetails: 'v0.3',
  message: 'Created Release v0.3',
});
const hostile = auditEvent({
  entity: web,
  createdAt: at(2),
  eventType: 'release_updated',
  authorId: 6,
  authorName: '=HYPERLINK("http://evil.example","click")',
  targetId: null,
  targetDetails: '+1, "quoted"',
  message: '@SUM(A1)\nsecond line',
  ipAddress: null,
});
const inGroup = auditEvent({
  entity: acme,
  createdAt: at(3),
  eventType: 'group_created',
  targetType: 'Group',
  targetDetails: '-acme\tx',
  message: '\t=cmd',
});
const elsewhere = auditEvent({
  entity: other,
  createdAt: at(4),
  eventType: 'group_created',
  message: 'Created group other',
});

const admin = bearer({ sub: '1', name: 'root', admin: true });
const as = (role: string, path: string) =>
  bearer({ sub: '42', name: `${role}-user`, groups: { [path]: role as never } });

let recorder: RecorderUnderTest;
let http: ReturnType<typeof request>;

beforeAll(async () => {
  recorder = await startRecorder(uniqueSuffix());
  http = request(recorder.app.getHttpServer());
  await insertNamespaces(recorder.app, [acme, web, other, big, huge, held]);
  await insertEvents(recorder.app, [plain, hostile, inGroup, elsewhere]);
});
afterAll(async () => {
  await recorder?.close();
});

/** `count` release events of `project`, three per millisecond so batches end inside a tie; chained as the consumer chains them. */
async function insertMany(project: Namespace, count: number): Promise<void> {
  const start = Date.UTC(2026, 0, 1);
  const events = Array.from({ length: count }, (_, n) => {
    const i = n + 1;
    return auditEvent({
      entity: project,
      createdAt: new Date(start + Math.floor(i / 3)).toISOString(),
      authorName: 'alice',
      targetId: i,
      targetDetails: `v${i}`,
      message: `Created Release v${i}`,
    });
  });
  await insertEvents(recorder.app, events, `bulk/${project.id}`);
}

/** The chain columns of a stored event as the export writes them: chain, position, hashes and the stored text. */
async function chainColumnsOf(e: AuditEvent): Promise<string> {
  const [row] = await recorder.app.get(Database).autocommit.query<{
    chain_id: string;
    chain_seq: string;
    prev_hash: string;
    hash: string;
    text: string;
  }>(
    `select chain_id, chain_seq, encode(prev_hash, 'hex') as prev_hash, encode(hash, 'hex') as hash, payload::text as text
       from audit_events where id = $1`,
    [e.id],
  );
  return [row.chain_id, Number(row.chain_seq), row.prev_hash, row.hash, row.text].map(csvField).join(',');
}

const lines = (body: string) => body.split('\r\n').slice(0, -1);
const rowOf = async (e: AuditEvent, fields: string[]) =>
  [e.id, ...fields, e.created_at, await chainColumnsOf(e)].join(',');
const csv = (path: string, token = admin) =>
  http
    .get(path)
    .set('Authorization', token)
    .buffer(true)
    .parse((res, done) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => done(null, text));
    });

describe('audit event CSV export (real PostgreSQL)', () => {
  it('writes the header and every row, RFC 4180 quoted and neutralised against formulas', async () => {
    const res = await csv('/api/v4/projects/acme%2Fweb/audit_events/export.csv').expect(200);
    expect(res.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(res.headers['content-disposition']).toMatch(
      /^attachment; filename="audit_events_project_10_\d{8}T\d{6}Z\.csv"$/,
    );
    expect(res.headers['cache-control']).toBe('no-store');
    expect(lines(res.body as string)).toEqual([
      HEADER,
      await rowOf(hostile, [
        '6',
        `"'=HYPERLINK(""http://evil.example"",""click"")"`,
        '10',
        'Project',
        'acme/web',
        '',
        'Release',
        `"'+1, ""quoted"""`,
        `"'@SUM(A1)\nsecond line"`,
        '',
      ]),
      await rowOf(plain, [
        '5',
        'alice',
        '10',
        'Project',
        'acme/web',
        '7',
        'Release',
        'v0.3',
        'Created Release v0.3',
        '203.0.113.7',
      ]),
    ]);
  });

  it('applies the filters and the sort', async () => {
    const res = await csv(
      '/api/v4/audit_events/export.csv?event_type=group_created&event_type=release_created&sort=asc&created_after=2026-11-21&created_before=2026-11-21T10:03:00Z',
    ).expect(200);
    const ids = lines(res.body as string)
      .slice(1)
      .map((l) => l.split(',')[0]);
    expect(ids).toEqual([plain.id, inGroup.id]);
    const neutralised = lines(res.body as string)[2];
    expect(neutralised).toContain(`,Group,'-acme\tx,'\t=cmd,`);
  });

  it('exports a group tree to its owner, and only the tree', async () => {
    const res = await csv('/api/v4/groups/acme/audit_events/export.csv', as('owner', 'acme')).expect(200);
    const ids = lines(res.body as string)
      .slice(1)
      .map((l) => l.split(',')[0]);
    // The earlier tests' exports are audit events of the tree too (project acme/web), stored whenever
    // their outbox → Kafka → consumer round trip lands: read after the CSV, so none is missed.
    const exports = await recorder.app
      .get(Database)
      .autocommit.query<{ id: string }>(
        `select id::text as id from audit_events where event_type in ('audit_events_export_started', 'audit_events_exported')`,
      );
    const exportIds = new Set(exports.map((r) => r.id));
    expect(ids.filter((id) => !exportIds.has(id))).toEqual(sorted([plain, hostile, inGroup], 'desc').map((e) => e.id));
  });

  it('answers errors before the first byte as problem+json', async () => {
    const cases: Array<[string, string | undefined, number]> = [
      ['/api/v4/audit_events/export.csv', undefined, 401],
      ['/api/v4/audit_events/export.csv', as('owner', 'acme'), 403],
      ['/api/v4/groups/acme/audit_events/export.csv', as('maintainer', 'acme'), 403],
      ['/api/v4/projects/10/audit_events/export.csv', as('developer', 'acme'), 403],
      ['/api/v4/projects/999/audit_events/export.csv', admin, 404],
      ['/api/v4/audit_events/export.csv?created_after=nope', admin, 400],
      ['/api/v4/audit_events/export.csv?per_page=10', admin, 400],
      ['/api/v4/groups/acme/audit_events/export.csv?sort=random', admin, 400],
    ];
    for (const [path, token, status] of cases) {
      const req = http.get(path);
      const res = await (token ? req.set('Authorization', token) : req).expect(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
  });

  it('streams a large export completely, in order, across batch boundaries, and reports it', async () => {
    const exported = jest.spyOn(recorder.app.get(AuditEventsExportService), 'recordEnd');
    await insertMany(big, 20_000);
    const res = await csv('/api/v4/projects/other%2Fbig/audit_events/export.csv?sort=asc').expect(200);
    expect(res.headers['content-length']).toBeUndefined(); // chunked: nothing was buffered to count it
    // The export's own start is an audit event of the project too, and may land while it streams.
    const all = lines(res.body as string).slice(1);
    const rows = all.filter((r) => !r.includes(',Started an export of audit events as CSV,'));
    expect(rows).toHaveLength(20_000);
    expect(new Set(rows.map((r) => r.split(',')[0])).size).toBe(20_000);
    expect(new Set(rows.map((r) => Number(r.split(',')[6])))).toEqual(
      new Set(Array.from({ length: 20_000 }, (_, i) => i + 1)),
    );
    const keys = rows.map((r) => [r.split(',')[11], r.split(',')[0]]);
    const outOfOrder = keys.findIndex(
      ([at, id], i) => i > 0 && (at < keys[i - 1][0] || (at === keys[i - 1][0] && id <= keys[i - 1][1])),
    );
    expect(outOfOrder).toBe(-1);
    await waitFor('the export to be reported', () => exported.mock.calls.length > 0);
    const [started, rowCount, completed] = exported.mock.calls[0];
    expect(started).toMatchObject({
      subject: { entity_type: 'Project', entity_id: 30, entity_path: 'other/big' },
      filters: {},
      sort: 'asc',
    });
    expect([rowCount, completed]).toEqual([all.length, true]);
    exported.mockRestore();

    // The export is itself an audit event: outbox -> Kafka -> this recorder's consumer -> the project's events.
    const recorded = await waitFor(
      'the export to be recorded as an audit event',
      async () => {
        const res = await http
          .get('/api/v4/projects/30/audit_events?event_type=audit_events_exported')
          .set('Authorization', admin);
        return res.status === 200 && res.body.length > 0 ? res.body[0] : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(recorded).toMatchObject({
      event_type: 'audit_events_exported',
      entity_type: 'Project',
      entity_id: 30,
      entity_path: 'other/big',
      author_name: 'root',
      target_type: 'AuditEvent',
      ip_address: '127.0.0.1',
      details: {
        custom_message: `Exported ${all.length} audit events as CSV`,
        filters: { sort: 'asc' },
        row_count: all.length,
        completed: true,
        export_id: started.exportId,
      },
    });
    // ... and so is its start, recorded before the first byte, under the same export id.
    const start = await waitFor(
      'the start of the export to be recorded as an audit event',
      async () => {
        const res = await http
          .get('/api/v4/projects/30/audit_events?event_type=audit_events_export_started')
          .set('Authorization', admin);
        return res.status === 200 && res.body.length > 0 ? res.body[0] : undefined;
      },
      { timeoutMs: 30_000 },
    );
    expect(start).toMatchObject({
      author_name: 'root',
      details: {
        custom_message: 'Started an export of audit events as CSV',
        export_id: started.exportId,
        filters: { sort: 'asc' },
      },
    });
    expect(start.created_at <= recorded.created_at).toBe(true);
  });

  it('refuses an export it cannot record (503 with Retry-After), and sends no row of it', async () => {
    // A real failure of the audit log's write: the outbox is out of reach (renamed by the superuser) while the export asks.
    const admin = new Client({ connectionString: databaseUrl(TEST_DATABASE_URL, recorder.database) });
    await admin.connect();
    let res: request.Response;
    try {
      await admin.query('alter table outbox rename to outbox_away');
      res = await csv('/api/v4/projects/acme%2Fweb/audit_events/export.csv');
    } finally {
      await admin.query('alter table outbox_away rename to outbox');
      await admin.end();
    }
    expect(res.status).toBe(503);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.headers['retry-after']).toBe('5');
    expect(res.body).not.toContain(plain.id);
    // The slot of the refused export was given back: the same user exports right after.
    await csv('/api/v4/projects/acme%2Fweb/audit_events/export.csv').expect(200);
  });

  it('caps the exports running at once per user and per instance with 429 and Retry-After, and frees them when they end', async () => {
    // More than loopback's socket buffers hold, so a client that stops reading holds its export open.
    await insertMany(held, 60 * EXPORT_BATCH_SIZE);
    const service = recorder.app.get(AuditEventsExportService);
    const { port } = recorder.app.getHttpServer().address() as { port: number };
    // A client that reads the first chunk and then stops reading: the export stays open, held by backpressure.
    const stalled = (token: string) =>
      new Promise<ClientRequest>((resolve, reject) => {
        const req = get(
          {
            host: '127.0.0.1',
            port,
            path: '/api/v4/projects/32/audit_events/export.csv',
            headers: { Authorization: token },
          },
          (res) => {
            expect(res.statusCode).toBe(200);
            res.once('data', () => {
              res.pause();
              resolve(req);
            });
          },
        );
        req.on('error', reject);
      });
    const userA = bearer({ sub: '501', name: 'exporter-a', auditor: true });
    const userB = bearer({ sub: '502', name: 'exporter-b', auditor: true });
    const userC = bearer({ sub: '503', name: 'exporter-c', auditor: true });
    const clients: ClientRequest[] = [];
    try {
      clients.push(await stalled(userA), await stalled(userA));
      const perUser = await csv('/api/v4/projects/32/audit_events/export.csv', userA);
      expect([perUser.status, perUser.headers['retry-after'], perUser.headers['content-type']]).toEqual([
        429,
        '5',
        expect.stringMatching(/^application\/problem\+json/),
      ]);
      expect(perUser.body).toMatch(/At most 2 exports per user/);
      clients.push(await stalled(userB), await stalled(userB));
      expect(service['slots'].inUse()).toBe(4);
      const perInstance = await csv('/api/v4/projects/32/audit_events/export.csv', userC);
      expect([perInstance.status, perInstance.headers['retry-after']]).toEqual([429, '5']);
      expect(perInstance.body).toMatch(/maximum of 4 exports/);
    } finally {
      for (const req of clients) req.destroy();
    }
    await waitFor('the abandoned exports to give their slots back', () => service['slots'].inUse() === 0);
    await csv('/api/v4/projects/32/audit_events/export.csv', userC).expect(200);
  });

  it('stops reading when the client goes away', async () => {
    const total = 12 * EXPORT_BATCH_SIZE;
    await insertMany(huge, total);
    const exported = jest.spyOn(recorder.app.get(AuditEventsExportService), 'recordEnd');
    const reads = jest.spyOn(recorder.app.get(AuditEventsExportService), 'batch');
    const { port } = recorder.app.getHttpServer().address() as { port: number };
    await new Promise<void>((resolve, reject) => {
      const req = get(
        {
          host: '127.0.0.1',
          port,
          path: '/api/v4/projects/31/audit_events/export.csv',
          headers: { Authorization: admin },
        },
        (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', reject);
    });
    await waitFor('the aborted export to be reported', () => exported.mock.calls.length > 0);
    const [, rowCount, completed] = exported.mock.calls[0];
    expect(completed).toBe(false);
    expect(rowCount).toBeLessThan(total);
    expect(reads.mock.calls.length).toBeLessThan(total / EXPORT_BATCH_SIZE);
    reads.mockRestore();
    exported.mockRestore();
  });

  it('leaves /audit_events/:event_id working beside export.csv and export', async () => {
    const res = await http.get(`/api/v4/audit_events/${plain.id}`).set('Authorization', admin).expect(200);
    expect(res.body).toEqual(plain);
    await csv('/api/v4/audit_events/export').expect(200);
  });
});
