import { generateKeyPairSync } from 'node:crypto';
import request from 'supertest';
import { checkpointDigest, CheckpointBody, signCheckpoint, signingKeyFromPem } from '@audit/audit-chain';
import { AuditEvent } from '@audit/contracts';
import { APP_CONFIG, Database, databaseUrl } from '@audit/platform';
import { Outbox } from '@audit/outbox';
import { bearer, TEST_DATABASE_URL, uniqueSuffix, waitFor } from '@audit/testing';
import { Client } from 'pg';
import {
  auditEvent,
  insertEvents,
  insertNamespaces,
  Namespace,
  RecorderUnderTest,
  startRecorder,
} from '../../test/audit-events.int-support';
import { AuditEventsRepository } from '../audit-events/audit-events.repository';
import type { AuditRecorderConfig } from '../config';
import { ChainWriter } from './chain-writer';
import { Checkpointer } from './checkpointer';
import { IntegrityRepository } from './integrity.repository';
import { purgeBoundary, Retention } from './retention';

/*
 * The hash chain, checkpoints, verification and retention against the real PostgreSQL: events appended the way
 * the consumer appends them, tampered with as a superuser would (the append-only triggers disabled), and the
 * verify route asked each time. Every tampering is undone before the next, and the untouched log verifies again.
 */
jest.setTimeout(180_000);

const web: Namespace = { kind: 'Project', id: 10, full_path: 'acme/web', parent_id: null };
const auditor = { authorization: bearer({ sub: '9', name: 'ada', auditor: true }) };
const admin = { authorization: bearer({ sub: '1', name: 'root', admin: true }) };
const member = { authorization: bearer({ sub: '5', name: 'bob', groups: { acme: 'owner' } }) };

let recorder: RecorderUnderTest;
let superuser: Client;
const chain0: AuditEvent[] = [];
const chain1: AuditEvent[] = [];

const at = (month: string, i: number) =>
  `${month}-${String(1 + (i % 27)).padStart(2, '0')}T10:00:${String(i % 60).padStart(2, '0')}.000Z`;

function events(count: number, months: string[]): AuditEvent[] {
  return Array.from({ length: count }, (_, i) =>
    auditEvent({ entity: web, createdAt: at(months[i % months.length], i), message: `action ${i}` }),
  );
}

async function verify(
  query = '',
): Promise<{ valid: boolean; events_checked: number; first_broken_event_id: string | null; reason: string | null }> {
  const res = await request(recorder.app.getHttpServer()).get(`/api/v4/audit_events/verify${query}`).set(auditor);
  expect(res.status).toBe(200);
  return res.body;
}

/** Runs `statements` as a superuser with the append-only triggers off, as an attacker with that access would. */
async function tamper(...statements: string[]): Promise<void> {
  const toggle = (on: boolean) => `do $$ declare p regclass; begin
      for p in select inhrelid::regclass from pg_inherits where inhparent = 'audit_events'::regclass loop
        ${
          on
            ? `execute format('alter table %s enable always trigger audit_events_no_update_delete', p);
               execute format('alter table %s enable always trigger audit_events_no_truncate', p);`
            : `execute format('alter table %s disable trigger user', p);`
        }
      end loop;
      execute 'alter table audit_checkpoints ${on ? 'enable always trigger audit_checkpoints_no_update_delete' : 'disable trigger user'}';
    end $$`;
  await superuser.query('begin');
  await superuser.query(toggle(false));
  for (const sql of statements) await superuser.query(sql);
  await superuser.query(toggle(true));
  await superuser.query('commit');
}

const row = async (id: string) =>
  (await superuser.query(`select *, payload::text as text from audit_events where id = $1`, [id])).rows[0] as Record<
    string,
    unknown
  > & { text: string; chain_seq: string };

beforeAll(async () => {
  recorder = await startRecorder(uniqueSuffix(), {
    AUDIT_RETENTION_DAYS: '36500',
    AUDIT_CHECKPOINT_INTERVAL_MS: '3600000',
  });
  superuser = new Client({ connectionString: databaseUrl(TEST_DATABASE_URL, recorder.database) });
  await superuser.connect();
  await insertNamespaces(recorder.app, [web]);
  chain0.push(...events(40, ['2026-09', '2026-10', '2026-11']));
  chain1.push(...events(25, ['2026-10', '2026-11']));
  await insertEvents(recorder.app, chain0.slice(0, 30), 'test/0');
  await insertEvents(recorder.app, chain1, 'test/1');
  await recorder.app.get(Checkpointer).checkpoint('interval');
  await insertEvents(recorder.app, chain0.slice(30), 'test/0'); // after the checkpoint: linked, not yet signed
  // The checkpoint is itself an audit event, recorded through outbox, Kafka and the consumer: wait for it, so the
  // counts below do not move under the test.
  await waitFor('the checkpoint event to be stored', async () => {
    const [r] = await recorder.app
      .get(Database)
      .autocommit.query<{ n: number }>(
        `select count(*)::int as n from audit_events where event_type = 'audit_log_checkpoint_created'`,
      );
    return r.n === 1 || undefined;
  });
});

afterAll(async () => {
  await superuser?.end().catch(() => undefined);
  await recorder?.close();
});

describe('the hash chain', () => {
  it('links every stored event in its chain: positions 1..n without gaps, each hash over its stored text', async () => {
    const { rows } = await superuser.query<{ chain_id: string; n: number; max: string; ok: number }>(
      `select chain_id, count(*)::int as n, max(chain_seq) as max,
              count(*) filter (where sha256(prev_hash || int8send(chain_seq) || convert_to(payload::text, 'UTF8')) = hash)::int as ok
         from audit_events where chain_id like 'test/%' group by chain_id order by chain_id`,
    );
    expect(rows).toEqual([
      { chain_id: 'test/0', n: 40, max: '40', ok: 40 },
      { chain_id: 'test/1', n: 25, max: '25', ok: 25 },
    ]);
  });

  it('does not fork or grow when a chunk is appended again (redelivery)', async () => {
    const before = await recorder.app.get(IntegrityRepository).heads();
    const stored = await recorder.app.get(ChainWriter).append(
      'test/0',
      chain0.slice(25, 35),
      chain0.slice(25, 35).map((e) => JSON.stringify(e)),
    );
    expect(stored).toEqual([]);
    // A chunk half stored: only the new half is appended, after the head.
    const extra = events(3, ['2026-11']);
    const mixed = [...chain0.slice(38), ...extra];
    const appended = await recorder.app.get(ChainWriter).append(
      'test/0',
      mixed,
      mixed.map((e) => JSON.stringify(e)),
    );
    expect(appended).toEqual(extra.map((e) => e.id));
    chain0.push(...extra);
    const after = await recorder.app.get(IntegrityRepository).heads();
    expect(after.find((h) => h.chain === 'test/0')?.seq).toBe(before.find((h) => h.chain === 'test/0')!.seq + 3);
  });
});

describe('GET /api/v4/audit_events/verify', () => {
  it('verifies the untouched log, counting the events after the last checkpoint as unsigned', async () => {
    const result = await verify();
    expect(result).toMatchObject({ valid: true, first_broken_event_id: null, reason: null, checkpoints_checked: 1 });
    expect(result.events_checked).toBe(40 + 3 + 25 + 1); // both chains and the checkpoint's own event
    expect((result as unknown as { unsigned_events: number }).unsigned_events).toBe(13 + 1);
  });

  it('is for administrators and auditors only, and names a bad parameter', async () => {
    const server = recorder.app.getHttpServer();
    expect((await request(server).get('/api/v4/audit_events/verify').set(member)).status).toBe(403);
    expect((await request(server).get('/api/v4/audit_events/verify').set(admin)).status).toBe(200);
    const bad = await request(server).get('/api/v4/audit_events/verify?created_after=yesterday').set(auditor);
    expect(bad.status).toBe(400);
    expect(bad.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(JSON.stringify(bad.body)).toContain('created_after');
    const reversed = await request(server)
      .get('/api/v4/audit_events/verify?created_after=2026-11-02&created_before=2026-11-01')
      .set(auditor);
    expect(reversed.status).toBe(400);
    expect(reversed.body.errors ?? reversed.body.fields ?? reversed.body).toEqual(
      expect.arrayContaining([expect.objectContaining({ field: 'created_after' })]),
    );
    const unknown = await request(server).get('/api/v4/audit_events/verify?limit=3').set(auditor);
    expect(unknown.status).toBe(400);
  });

  it('verifies a window: the chains from their first to their last event created in it', async () => {
    const result = await verify('?created_after=2026-10-01&created_before=2026-10-31T23:59:59Z');
    expect(result.valid).toBe(true);
    expect(result.events_checked).toBeGreaterThan(0);
    expect(result.events_checked).toBeLessThan(69);
  });

  it('finds a changed field of an event, naming it', async () => {
    const victim = chain0[9];
    const original = await row(victim.id);
    await tamper(
      `update audit_events set payload = replace(payload::text, 'action 9', 'action 99')::json where id = '${victim.id}'`,
    );
    expect(await verify()).toMatchObject({ valid: false, first_broken_event_id: victim.id });
    await tamper(`update audit_events set payload = $$${original.text}$$::json where id = '${victim.id}'`);
    expect((await verify()).valid).toBe(true);
  });

  it('finds a deleted event, naming the one after it', async () => {
    const victim = chain0[19];
    const saved = await row(victim.id);
    await tamper(`delete from audit_events where id = '${victim.id}'`);
    const result = await verify();
    expect(result).toMatchObject({ valid: false, first_broken_event_id: chain0[20].id });
    expect(result.reason).toMatch(/test\/0/);
    await tamper(
      `insert into audit_events select * from json_populate_record(null::audit_events, $$${JSON.stringify({
        ...saved,
        payload: JSON.parse(saved.text),
        prev_hash: `\\x${(saved.prev_hash as Buffer).toString('hex')}`,
        hash: `\\x${(saved.hash as Buffer).toString('hex')}`,
        text: undefined,
      })}$$::json)`,
    );
    expect((await verify()).valid).toBe(true);
  });

  it('finds an inserted event, even one linked to its predecessor with a correct hash', async () => {
    const before = await row(chain1[13].id); // position 14
    const forged = {
      ...chain1[14],
      id: 'ffffffff-ffff-4fff-bfff-ffffffffffff',
      details: { ...chain1[14].details, custom_message: 'forged' },
    };
    const text = JSON.stringify(forged);
    await tamper(
      `insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload, chain_id, chain_seq, prev_hash, hash)
       values ('${forged.id}', 'release_created', 1, 'user1', 'Project', 10, 'acme/web', 'Release', 7, '${forged.created_at}', $$${text}$$::json, 'test/1', 15,
               '\\x${(before.hash as Buffer).toString('hex')}'::bytea,
               sha256('\\x${(before.hash as Buffer).toString('hex')}'::bytea || int8send(15) || convert_to($$${text}$$, 'UTF8')))`,
    );
    expect(await verify()).toMatchObject({ valid: false, first_broken_event_id: forged.id });
    await tamper(`delete from audit_events where id = '${forged.id}'`);
    expect((await verify()).valid).toBe(true);
  });

  it('finds two events swapped', async () => {
    const [a, b] = [chain0[4], chain0[5]]; // positions 5 and 6
    await tamper(
      `update audit_events set chain_seq = case when id = '${a.id}' then 6 else 5 end where id in ('${a.id}', '${b.id}')`,
    );
    expect(await verify()).toMatchObject({ valid: false, first_broken_event_id: b.id });
    await tamper(
      `update audit_events set chain_seq = case when id = '${a.id}' then 5 else 6 end where id in ('${a.id}', '${b.id}')`,
    );
    expect((await verify()).valid).toBe(true);
  });

  it('finds a tail re-hashed after a change (the attacker recomputed the chain) through the checkpoint', async () => {
    // Event at position 25 of test/1 changed and re-hashed, consistent with its predecessor: only the signed head
    // (position 25) tells.
    const victim = chain1[24];
    const saved = await row(victim.id);
    const text = saved.text.replace('action 24', 'action 2400');
    await tamper(
      `update audit_events set payload = $$${text}$$::json, hash = sha256(prev_hash || int8send(chain_seq) || convert_to($$${text}$$, 'UTF8')) where id = '${victim.id}'`,
    );
    const result = await verify();
    expect(result.valid).toBe(false);
    expect(result.reason).toMatch(/checkpoint/i);
    expect(result.first_broken_event_id).toBe(chain1[0].id);
    await tamper(
      `update audit_events set payload = $$${saved.text}$$::json, hash = '\\x${(saved.hash as Buffer).toString('hex')}'::bytea where id = '${victim.id}'`,
    );
    expect((await verify()).valid).toBe(true);
  });

  it('finds an edited checkpoint and a forged one', async () => {
    const [cp] = (await superuser.query<{ body: string }>('select body from audit_checkpoints where sequence = 1'))
      .rows;
    await tamper(`update audit_checkpoints set body = replace(body, '"seq":25', '"seq":24') where sequence = 1`);
    const edited = await verify();
    expect(edited).toMatchObject({ valid: false, first_broken_event_id: null });
    expect(edited.reason).toMatch(/checkpoint\D{0,3}1\b/i);
    await tamper(`update audit_checkpoints set body = $$${cp.body}$$ where sequence = 1`);
    expect((await verify()).valid).toBe(true);

    // A checkpoint 2 signed with a key that is not the recorder's, correctly chained to checkpoint 1.
    const other = signingKeyFromPem(
      generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    );
    const first = JSON.parse(cp.body) as CheckpointBody;
    const forged = signCheckpoint(
      {
        ...first,
        id: '00000000-0000-4000-8000-000000000002',
        sequence: 2,
        previous: checkpointDigest(cp.body),
        key_id: recorder.app.get<AuditRecorderConfig>(APP_CONFIG).signingKey.keyId,
      },
      other,
    );
    await superuser.query(
      `insert into audit_checkpoints (sequence, id, created_at, reason, key_id, body, signature) values (2, '00000000-0000-4000-8000-000000000002', now(), 'interval', $1, $2, $3)`,
      [first.key_id, forged.body, forged.signature],
    );
    const result = await verify();
    expect(result).toMatchObject({ valid: false, first_broken_event_id: null });
    expect(result.reason).toMatch(/checkpoint\D{0,3}2\b/i);
    await tamper(`delete from audit_checkpoints where sequence = 2`);
    expect((await verify()).valid).toBe(true);
  });
});

describe('GET /api/v4/audit_events/checkpoints', () => {
  it('serves the public key and the signed checkpoints, to administrators and auditors only', async () => {
    const server = recorder.app.getHttpServer();
    const res = await request(server).get('/api/v4/audit_events/checkpoints').set(auditor);
    expect(res.status).toBe(200);
    expect(res.body.public_key).toMatch(/^-----BEGIN PUBLIC KEY-----/);
    expect(res.body.checkpoints).toHaveLength(1);
    const body = JSON.parse(res.body.checkpoints[0].body) as CheckpointBody;
    expect(body.chains.map((c) => [c.chain, c.seq])).toEqual(
      expect.arrayContaining([
        ['test/0', 30],
        ['test/1', 25],
      ]),
    );
    expect((await request(server).get('/api/v4/audit_events/checkpoints').set(member)).status).toBe(403);
    const pem = await request(server).get('/api/v4/audit_events/public_key.pem').set(auditor);
    expect(pem.text).toBe(res.body.public_key);
    // Pages: one checkpoint per page here, the next one's URL in Link rel="next", none after the last.
    await recorder.app.get(Checkpointer).checkpoint('purge');
    const first = await request(server).get('/api/v4/audit_events/checkpoints?per_page=1').set(auditor);
    expect(first.body.checkpoints.map((c: { sequence: number }) => c.sequence)).toEqual([1]);
    const next = /^<([^>]+)>; rel="next"$/.exec(first.headers['link'] ?? '')?.[1] ?? '';
    expect(next).toContain('after_sequence=1');
    const second = await request(server)
      .get(new URL(next, 'http://relative.invalid').pathname + new URL(next, 'http://relative.invalid').search)
      .set(auditor);
    expect(second.body.checkpoints.map((c: { sequence: number }) => c.sequence)).toEqual([2]);
    expect(second.headers['link']).toBeUndefined();
    const bad = await request(server).get('/api/v4/audit_events/checkpoints?per_page=0').set(auditor);
    expect(bad.status).toBe(400);
    expect(JSON.stringify(bad.body)).toContain('per_page');
  });
});

describe('retention', () => {
  it('drops exactly the expired months, refuses under a legal hold, and the log still verifies from the cut', async () => {
    // Chain test/2 in 2017: January and February expire at the injected clock, March does not. One March event sits
    // between February's, so the purge leaves a hole in the chain as well as a cut at its start.
    const old = [
      ...events(6, ['2017-01']),
      ...events(4, ['2017-02']),
      ...events(1, ['2017-03']),
      ...events(3, ['2017-02']),
      ...events(5, ['2017-03']),
    ];
    await insertEvents(recorder.app, old, 'test/2');
    const config = recorder.app.get<AuditRecorderConfig>(APP_CONFIG);
    const now = new Date('2117-02-10T00:00:00Z'); // 36,500 days before it: 2017-03-06
    const boundary = purgeBoundary(now, config.AUDIT_RETENTION_DAYS);
    expect(boundary).toBe('2017-03-01');
    const months = async () =>
      (
        await superuser.query<{ name: string }>(
          `select c.relname as name from pg_inherits i join pg_class c on c.oid = i.inhrelid where i.inhparent = 'audit_events'::regclass and c.relname like 'audit_events_y2017%' order by 1`,
        )
      ).rows.map((r) => r.name);
    expect(await months()).toEqual(['audit_events_y2017m01', 'audit_events_y2017m02', 'audit_events_y2017m03']);

    const retention = recorder.app.get(Retention);
    const held = new Retention(
      { ...config, AUDIT_LEGAL_HOLD: true },
      recorder.app.get(Database),
      recorder.app.get(AuditEventsRepository),
      recorder.app.get(IntegrityRepository),
      recorder.app.get(Checkpointer),
      recorder.app.get(Outbox),
    );
    expect(await held.purgeExpired(now)).toEqual({ status: 'legal_hold', before: '2017-03-01' });
    expect(await months()).toHaveLength(3);

    const outcome = await retention.purgeExpired(now);
    expect(outcome.status).toBe('purged');
    if (outcome.status !== 'purged') return;
    expect(outcome.purge.months).toEqual(['2017-01', '2017-02']);
    expect(outcome.purge.events).toBe(13);
    expect(outcome.purge.counts).toEqual({ '2017-01': 6, '2017-02': 7 });
    expect(outcome.purge.ranges).toEqual([
      expect.objectContaining({ chain: 'test/2', from: 1, to: 10 }),
      expect.objectContaining({ chain: 'test/2', from: 12, to: 14 }),
    ]);
    expect(await months()).toEqual(['audit_events_y2017m03']);
    expect(await retention.purgeExpired(now)).toEqual({ status: 'nothing_expired', before: '2017-03-01' });

    const result = await verify();
    expect(result).toMatchObject({ valid: true, first_broken_event_id: null });
    const [cp] = (
      await superuser.query<{ reason: string; body: string }>(
        'select reason, body from audit_checkpoints order by sequence desc limit 1',
      )
    ).rows;
    expect(cp.reason).toBe('purge');
    expect((JSON.parse(cp.body) as CheckpointBody).purged).toHaveLength(2);
    // The purge is an audit event too, recorded like any other.
    await waitFor('the purge event to be stored', async () => {
      const { rows } = await superuser.query(`select 1 from audit_events where event_type = 'audit_events_purged'`);
      return rows.length === 1 || undefined;
    });
    // Deleting a surviving event is still found after the purge.
    const victim = old[10]; // position 11, the March event between the two purged ranges
    await tamper(`delete from audit_events where id = '${victim.id}'`);
    expect(await verify()).toMatchObject({ valid: false, first_broken_event_id: old[14].id });
  });
});
