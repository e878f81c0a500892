import { Database, databaseUrl } from '@audit/platform';
import { TEST_DATABASE_URL, uniqueSuffix, urlAs } from '@audit/testing';
import { Client } from 'pg';
import {
  auditEvent,
  insertEvents,
  insertNamespaces,
  Namespace,
  RecorderUnderTest,
  startRecorder,
} from '../../test/audit-events.int-support';

/*
 * The audit log cannot be edited through the services' own database access. The recorder runs as
 * `audit_recorder` (the runtime role) and migrates as `audit_recorder_owner`; neither is a superuser,
 * so neither can set session_replication_role = replica, which used to let an UPDATE slip past the
 * append-only trigger. The trigger itself is ENABLE ALWAYS, so even a superuser in replica mode meets it.
 */
jest.setTimeout(120_000);

const web: Namespace = { kind: 'Project', id: 10, full_path: 'acme/web', parent_id: null };
const event = auditEvent({ entity: web, createdAt: '2026-11-21T10:00:00.000Z' });

let recorder: RecorderUnderTest;
let database: string;
const clients: Client[] = [];

async function connectAs(user: string | null): Promise<Client> {
  const client = new Client({ connectionString: databaseUrl(user ? urlAs(user) : TEST_DATABASE_URL, database) });
  await client.connect();
  clients.push(client);
  return client;
}

/** The SQLSTATE and message a statement fails with; fails the test if it succeeds. */
async function refusal(client: Client, sql: string): Promise<{ code: string; message: string }> {
  try {
    await client.query(sql);
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
  throw new Error(`${sql} was allowed`);
}

beforeAll(async () => {
  recorder = await startRecorder(uniqueSuffix());
  database = recorder.database;
  await insertNamespaces(recorder.app, [web]);
  await insertEvents(recorder.app, [event]);
});

afterAll(async () => {
  await Promise.all(clients.map((c) => c.end().catch(() => undefined)));
  await recorder?.close();
});

describe('database roles of the recorder', () => {
  it('runs as its least-privileged role, not as the owner or a superuser', async () => {
    const [who] = await recorder.app
      .get(Database)
      .autocommit.query<{ user: string; superuser: boolean }>(
        `select current_user as user, rolsuper as superuser from pg_roles where rolname = current_user`,
      );
    expect(who).toEqual({ user: 'audit_recorder', superuser: false });
  });

  it('lets the runtime role read and append audit events, and nothing more', async () => {
    const runtime = await connectAs('audit_recorder');
    expect((await runtime.query('select count(*)::int as n from audit_events')).rows[0].n).toBe(1);
    expect(await refusal(runtime, 'set session_replication_role = replica')).toMatchObject({ code: '42501' });
    for (const sql of [
      `update audit_events set author_name = 'mallory'`,
      'delete from audit_events',
      'truncate audit_events',
    ]) {
      expect(await refusal(runtime, sql)).toMatchObject({
        code: '42501',
        message: expect.stringMatching(/permission denied for table audit_events/),
      });
    }
    expect(await refusal(runtime, 'alter table audit_events disable trigger all')).toMatchObject({
      code: '42501',
      message: expect.stringMatching(/must be owner/),
    });
    expect(await refusal(runtime, 'create table shadow (id int)')).toMatchObject({ code: '42501' });
    expect(await refusal(runtime, 'select * from mikro_orm_migrations')).toMatchObject({ code: '42501' });
    expect(await refusal(runtime, 'drop table audit_events')).toMatchObject({ code: '42501' });
  });

  it('does not let the schema owner slip past the trigger either: it is no superuser', async () => {
    const owner = await connectAs('audit_recorder_owner');
    expect(await refusal(owner, 'set session_replication_role = replica')).toMatchObject({ code: '42501' });
    expect(await refusal(owner, `update audit_events set author_name = 'mallory'`)).toMatchObject({
      message: expect.stringMatching(/append-only/),
    });
  });

  it('fires the append-only trigger in every replication mode, for a superuser too', async () => {
    const superuser = await connectAs(null);
    const triggers = await superuser.query(
      `select tgname, tgenabled from pg_trigger where tgrelid = 'audit_events'::regclass and not tgisinternal order by tgname`,
    );
    expect(triggers.rows).toEqual([
      { tgname: 'audit_events_no_truncate', tgenabled: 'A' },
      { tgname: 'audit_events_no_update_delete', tgenabled: 'A' },
    ]);
    await superuser.query('set session_replication_role = replica');
    expect(await refusal(superuser, `update audit_events set author_name = 'mallory'`)).toMatchObject({
      message: expect.stringMatching(/append-only: UPDATE/),
    });
    expect(await refusal(superuser, 'delete from audit_events')).toMatchObject({
      message: expect.stringMatching(/append-only: DELETE/),
    });
    const [row] = (await superuser.query('select author_name from audit_events where id = $1', [event.id])).rows;
    expect(row.author_name).toBe(event.author_name);
  });
});
