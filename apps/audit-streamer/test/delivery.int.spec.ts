import type request from 'supertest';
import { Client } from 'pg';
import { databaseUrl } from '@audit/platform';
import { dropDatabase, releaseCreatedEvent, TEST_DATABASE_URL, waitFor } from '@audit/testing';
import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { SecretBox } from '../src/crypto/secret-box';
import { DeliveryPruner } from '../src/delivery-log/delivery-pruner';
import {
  createDestinations,
  disconnectProducer,
  releaseRequests,
  send,
  startControlledReceiver,
  startStreamer,
  Streamer,
} from './delivery.int-support';

/*
 * Delivery against the real Kafka, PostgreSQL and local HTTP receivers, the streamer in-process
 * with its own database and topic per test. Short retry and pause schedules (set per test) keep
 * the failure scenarios to seconds.
 */
jest.setTimeout(120_000);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
afterAll(disconnectProducer);

async function setup(env: Record<string, string> = {}): Promise<Streamer> {
  const s = await startStreamer(env);
  cleanups.push(s.close);
  return s;
}
async function receiver(...args: Parameters<typeof startControlledReceiver>) {
  const r = await startControlledReceiver(...args);
  cleanups.push(r.close);
  return r;
}
const releases = (s: Streamer, count: number, from = 1) =>
  Array.from({ length: count }, (_, i) => releaseCreatedEvent(from + i, 31, `${s.groupPath}/app`));
const base = (s: Streamer, destinationId: number) =>
  `/api/v4/groups/${s.groupPath}/audit_events/streaming/destinations/${destinationId}`;

describe('configuration changes', () => {
  it('a header added after deliveries started is sent with the very next delivery', async () => {
    const s = await setup();
    const r = await receiver();
    const [id] = await createDestinations(s, [r.url]);
    await send(s.topic, releases(s, 1));
    await waitFor('the first event (target now cached)', () => releaseRequests(r.requests).length === 1);
    await s.http
      .post(`${base(s, id)}/headers`)
      .set('Authorization', s.owner)
      .send({ key: 'X-Tenant', value: 'acme' })
      .expect(201);
    await send(s.topic, releases(s, 1, 2));
    const second = await waitFor('the second event', () => releaseRequests(r.requests)[1]);
    expect(second.headers['x-tenant']).toBe('acme');
    // Stored as json, streamed in the contract's field order.
    expect(Object.keys(JSON.parse(second.body))).toEqual([
      'id',
      'author_id',
      'entity_id',
      'entity_type',
      'details',
      'ip_address',
      'author_name',
      'entity_path',
      'target_details',
      'created_at',
      'target_type',
      'target_id',
      'event_type',
    ]);
    expect(releaseRequests(r.requests)[0].headers['x-tenant']).toBeUndefined();
  });
});

/**
 * A receiver that keeps each request's header lines as sent. Node's `req.headers` (which the other
 * receivers record) is a plain object built by assignment: a `__proto__` header never shows in it.
 */
async function rawHeaderReceiver() {
  const requests: Array<Array<[string, string]>> = [];
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      const lines: Array<[string, string]> = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) lines.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      requests.push(lines);
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/ingest`, requests };
}

describe('custom header keys', () => {
  it('sends keys named like Object.prototype members exactly as stored, and never a stored platform header', async () => {
    const s = await setup();
    const r = await rawHeaderReceiver();
    const [id] = await createDestinations(s, [r.url]);
    const custom: Array<[string, string]> = [
      ['__proto__', 'a'],
      ['constructor', 'b'],
      ['prototype', 'c'],
      ['hasOwnProperty', 'd'],
      ['toString', 'e'],
    ];
    const added: Array<{ id: number; key: string; value: string }> = [];
    for (const [key, value] of custom)
      added.push(
        (
          await s.http
            .post(`${base(s, id)}/headers`)
            .set('Authorization', s.owner)
            .send({ key, value })
            .expect(201)
        ).body,
      );
    expect(added.map(({ key, value }) => [key, value])).toEqual(custom);
    const read = await s.http.get(base(s, id)).set('Authorization', s.owner).expect(200);
    expect(read.body.headers).toEqual(added);
    // Stored before X-Gitlab-* was reserved as a whole (the API refuses it now): still never sent.
    await s.sql('insert into destination_headers (destination_id, key, value) values ($1, $2, $3)', [
      id,
      'X-Gitlab-Something',
      s.app.get(SecretBox).encrypt('forged'),
    ]);

    await send(s.topic, releases(s, 1));
    const lines = await waitFor('the release event', () =>
      r.requests.find((req) =>
        req.some(([name, value]) => name.toLowerCase() === 'x-gitlab-audit-event-type' && value === 'release_created'),
      ),
    );
    for (const [key, value] of custom) expect(lines.filter(([name]) => name === key)).toEqual([[key, value]]);
    expect(lines.filter(([name]) => name.toLowerCase() === 'x-gitlab-something')).toEqual([]);
    expect(lines.some(([, value]) => value === 'forged')).toBe(false);
  });
});

describe('independent delivery per destination', () => {
  it('a receiver answering 500 for a while gets every event once it recovers; the healthy one is not held up meanwhile', async () => {
    const s = await setup();
    const healthy = await receiver();
    const flaky = await receiver(() => ({ status: 500 }));
    const [, flakyId] = await createDestinations(s, [healthy.url, flaky.url]);
    await send(s.topic, releases(s, 200));

    const healthyIds = await waitFor(
      'the healthy receiver to get all 200 events while the other fails',
      () => healthy.deliveredIds().size === 200 && healthy.deliveredIds(),
      { timeoutMs: 15_000 },
    );
    expect(flaky.deliveredIds().size).toBe(0);
    expect(flaky.requests.length).toBeGreaterThan(0);

    flaky.set(() => ({ status: 200 }));
    const flakyIds = await waitFor(
      'the recovered receiver to get every event',
      () => flaky.deliveredIds().size === 200 && flaky.deliveredIds(),
      { timeoutMs: 20_000 },
    );
    expect([...flakyIds].sort()).toEqual([...healthyIds].sort());

    // Oldest first failed: walk the log (newest first) page by page to the end. Outcomes are
    // recorded after the response, in batches, so the log may trail the receiver briefly.
    type Logged = {
      attempts: number;
      attempt_log: Array<{ status_code: number; latency_ms: number; error: string | null }>;
    };
    const readLog = async (): Promise<Logged[]> => {
      const all: Logged[] = [];
      for (let url: string | undefined = `${base(s, flakyId)}/deliveries?status=delivered&per_page=100`; url;) {
        const page: request.Response = await s.http.get(url).set('Authorization', s.owner).expect(200);
        all.push(...page.body);
        url = /<[^>]*(\/api\/v4\/[^>]+)>; rel="next"/.exec(page.headers['link'] ?? '')?.[1];
      }
      return all;
    };
    const all = await waitFor(
      'the log to show every delivery as delivered',
      async () => {
        const logged = await readLog();
        return logged.length >= 200 && logged;
      },
      { timeoutMs: 20_000 },
    );
    expect(all.length).toBeGreaterThanOrEqual(200);
    const retried = all.find((d) => d.attempts > 1);
    expect(retried?.attempt_log[0]).toMatchObject({ status_code: 500, error: 'HTTP 500' });
    expect(retried?.attempt_log.at(-1)).toMatchObject({ status_code: 200, error: null });
    expect(typeof retried?.attempt_log[0].latency_ms).toBe('number');
  });

  it('a receiver that times out holds only its own slots; it gets everything after it recovers', async () => {
    const s = await setup({
      DELIVERY_TIMEOUT_MS: '1000',
      DELIVERY_CONCURRENCY: '8',
      DELIVERY_CONCURRENCY_PER_DESTINATION: '4',
    });
    const healthy = await receiver();
    const slow = await receiver(() => 'hang');
    const [, slowId] = await createDestinations(s, [healthy.url, slow.url]);
    await send(s.topic, releases(s, 150));

    await waitFor(
      'the healthy receiver to get all 150 events while the other hangs',
      () => healthy.deliveredIds().size === 150,
      { timeoutMs: 15_000 },
    );
    expect(slow.deliveredIds().size).toBe(0);
    expect(slow.requests.length).toBeGreaterThan(0);
    await waitFor(
      'timeouts in the attempt log',
      async () =>
        (
          await s.sql(`select 1 from deliveries d where d.destination_id = $1 and d.last_error ilike '%timeout%'`, [
            slowId,
          ])
        ).length > 0,
    );

    slow.set(() => ({ status: 204 }));
    await waitFor('the recovered receiver to get every event', () => slow.deliveredIds().size === 150, {
      timeoutMs: 30_000,
    });
  });
});

describe('hand-off from the consumer to the worker', () => {
  it('leases new deliveries as they are inserted, and a graceful stop gives the queued ones back', async () => {
    const s = await startStreamer({ DELIVERY_CONCURRENCY_PER_DESTINATION: '2' });
    cleanups.push(() => dropDatabase(s.database));
    // Slow but successful for the releases: the stop finds 2 in flight and the rest queued.
    const r = await receiver((req) => ({
      status: 204,
      afterMs: req.headers['x-gitlab-audit-event-type'] === 'release_created' ? 2_000 : 0,
    }));
    const [id] = await createDestinations(s, [r.url]);
    await send(s.topic, releases(s, 30));
    await waitFor("two releases in flight (the destination's slots)", () => releaseRequests(r.requests).length === 2);
    // All 30 leased by the insert itself: a claim would only have leased the 2 free slots.
    const [during] = await s.sql<{ leased: number; total: number }>(
      `select count(*)::int as total, (count(*) filter (where leased_until > now()))::int as leased
         from deliveries where destination_id = $1 and event_type = 'release_created'`,
      [id],
    );
    expect(during).toEqual({ total: 30, leased: 30 });
    expect(releaseRequests(r.requests)).toHaveLength(2);

    await s.app.close(); // waits for the 2 sends, gives the 28 queued back
    const db = new Client({ connectionString: databaseUrl(TEST_DATABASE_URL, s.database) });
    await db.connect();
    try {
      const { rows } = await db.query<{ status: string; attempts: number; leased: boolean; n: number }>(
        `select status, attempts, leased_until is not null as leased, count(*)::int as n
           from deliveries where destination_id = $1 and event_type = 'release_created' group by 1, 2, 3 order by 1, 2, 3`,
        [id],
      );
      expect(rows).toEqual([
        { status: 'delivered', attempts: 1, leased: false, n: 2 },
        { status: 'pending', attempts: 0, leased: false, n: 28 },
      ]);
    } finally {
      await db.end();
    }
  });
});

describe('deactivation', () => {
  it('410 Gone deactivates the destination at once; the others keep receiving', async () => {
    const s = await setup();
    // Gone for the releases only: the destination's own "created" events must not deactivate it before a release is fanned out to it.
    const gone = await receiver((req) => ({
      status: req.headers['x-gitlab-audit-event-type'] === 'release_created' ? 410 : 204,
    }));
    const healthy = await receiver();
    const [goneId] = await createDestinations(s, [gone.url, healthy.url]);
    await send(s.topic, releases(s, 20));
    await waitFor(
      'the destination to be deactivated',
      async () =>
        (await s.sql<{ active: boolean }>(`select active from destinations where id = $1`, [goneId]))[0].active ===
        false,
    );
    await waitFor('the healthy one to get everything', () => healthy.deliveredIds().size === 20);
    // Kept, undelivered: a re-activated destination still gets them. (How many were fanned out
    // before the deactivation depends on how the 20 events were chunked.)
    const [{ total, undelivered }] = await s.sql<{ total: number; undelivered: number }>(
      `select count(*)::int as total, (count(*) filter (where status <> 'delivered'))::int as undelivered
         from deliveries where destination_id = $1 and event_type = 'release_created'`,
      [goneId],
    );
    expect(total).toBeGreaterThan(0);
    expect(undelivered).toBe(total);
    expect(gone.deliveredIds().size).toBe(0);
    const [row] = await s.sql<{ deactivated_reason: string }>(
      `select deactivated_reason from destinations where id = $1`,
      [goneId],
    );
    expect(row.deactivated_reason).toMatch(/410/);
    // The deactivation is itself an audit event, streamed to the group's other destination.
    await waitFor('the deactivation audit event', () =>
      healthy.requests.some((q) => /deactivated/.test(String(q.headers['x-gitlab-audit-event-type']))),
    );
  });

  it('a destination failing continuously for DELIVERY_DEACTIVATE_AFTER_MS is deactivated', async () => {
    const s = await setup({ DELIVERY_DEACTIVATE_AFTER_MS: '1500' });
    const failing = await receiver(() => ({ status: 503 }));
    const [id] = await createDestinations(s, [failing.url]);
    await send(s.topic, releases(s, 5));
    await waitFor(
      'the failing destination to be deactivated',
      async () =>
        (await s.sql<{ active: boolean }>(`select active from destinations where id = $1`, [id]))[0].active === false,
      { timeoutMs: 15_000 },
    );
    const [health] = await s.sql<{ failing_since: Date }>(
      `select failing_since from destination_health where destination_id = $1`,
      [id],
    );
    expect(Date.now() - new Date(health.failing_since).getTime()).toBeGreaterThanOrEqual(1500);
  });
});

describe('redirects', () => {
  it('are failures and never followed, neither to a private address nor to another local server', async () => {
    const s = await setup();
    const target = await receiver();
    const toLocal = await receiver(() => ({ status: 307, headers: { location: target.url } }));
    const toMetadata = await receiver(() => ({
      status: 302,
      headers: { location: 'http://169.254.169.254/latest/meta-data/' },
    }));
    const [localId, metadataId] = await createDestinations(s, [toLocal.url, toMetadata.url]);
    await send(s.topic, releases(s, 3));
    for (const id of [localId, metadataId]) {
      const rows = await waitFor('the redirects to be recorded as failed attempts', async () => {
        const r = await s.sql<{ status: string; last_status_code: number }>(
          `select status, last_status_code from deliveries where destination_id = $1 and event_type = 'release_created' order by id`,
          [id],
        );
        return r.length === 3 && r.every((d) => d.status === 'failed') && r;
      });
      expect(rows.map((r) => r.last_status_code)).toEqual(id === localId ? [307, 307, 307] : [302, 302, 302]);
    }
    expect(target.requests).toHaveLength(0);
    expect(toLocal.requests.length).toBeGreaterThanOrEqual(3);
  });
});

describe('delivery log, retry and replay', () => {
  it('honours Retry-After, retries one delivery on demand, replays since a time, and pages the log', async () => {
    const s = await setup({ DELIVERY_RETRY_MAX_MS: '86400000' });
    const r = await receiver(() => ({ status: 429, headers: { 'retry-after': '3600' } }));
    const [id] = await createDestinations(s, [r.url]);
    const before = new Date().toISOString();
    await send(s.topic, releases(s, 5));
    const failed = await waitFor('five failed deliveries', async () => {
      const res = await s.http
        .get(`${base(s, id)}/deliveries?status=failed&per_page=100`)
        .set('Authorization', s.owner)
        .expect(200);
      const rows = (res.body as Array<{ id: number; event_type: string; next_attempt_at: string }>).filter(
        (d) => d.event_type === 'release_created',
      );
      return rows.length === 5 && rows;
    });
    for (const d of failed) {
      // Retry-After: 3600 → the next attempt an hour later, not after the 100 ms backoff.
      expect(Date.parse(d.next_attempt_at) - Date.now()).toBeGreaterThan(3500_000);
    }

    r.set(() => ({ status: 200 }));
    const retried = await s.http
      .post(`${base(s, id)}/deliveries/${failed[0].id}/retry`)
      .set('Authorization', s.owner)
      .expect(202);
    expect(retried.body.id).toBe(failed[0].id);
    // Its success shows the destination is back: the rest, backed off for an hour, follow at once.
    await waitFor('every event delivered', () => r.deliveredIds().size === 5, { timeoutMs: 15_000 });
    await waitFor(
      'the log to say delivered',
      async () =>
        (await s.sql(`select 1 from deliveries where status = 'delivered' and event_type = 'release_created'`))
          .length === 5,
    );
    await s.http
      .post(`${base(s, id)}/deliveries/${failed[0].id}/retry`)
      .set('Authorization', s.owner)
      .expect(409);
    await s.http
      .post(`${base(s, id)}/deliveries/999999/retry`)
      .set('Authorization', s.owner)
      .expect(404);

    const replay = await s.http
      .post(`${base(s, id)}/replay`)
      .set('Authorization', s.owner)
      .send({ since: before })
      .expect(202);
    expect(replay.body.since).toBe(before);
    expect(replay.body.replayed).toBeGreaterThanOrEqual(5); // plus the destination's own creation event, streamed too
    await waitFor(
      'each event a second time',
      () => releaseRequests(r.requests).filter((q) => q.status === 200).length === 10,
      { timeoutMs: 15_000 },
    );
    const future = new Date(Date.now() + 60_000).toISOString();
    expect(
      (
        await s.http
          .post(`${base(s, id)}/replay`)
          .set('Authorization', s.owner)
          .send({ since: future })
          .expect(202)
      ).body.replayed,
    ).toBe(0);
    const bad = await s.http
      .post(`${base(s, id)}/replay`)
      .set('Authorization', s.owner)
      .send({ since: 'yesterday' })
      .expect(400);
    expect(JSON.stringify(bad.body)).toMatch(/since/);
    // Year 0 does not exist in PostgreSQL: it was a 500, it is a 400 naming `since`.
    for (const since of ['0000-01-01T00:00:00Z', '0001-01-01T00:30:00+01:00', '9999-12-31T23:30:00-01:00']) {
      const outOfRange = await s.http
        .post(`${base(s, id)}/replay`)
        .set('Authorization', s.owner)
        .send({ since })
        .expect(400);
      expect(outOfRange.body.errors).toEqual([
        { field: 'since', message: expect.stringMatching(/between 0001-01-01 and 9999-12-31/) },
      ]);
    }

    const page1 = await s.http
      .get(`${base(s, id)}/deliveries?per_page=2`)
      .set('Authorization', s.owner)
      .expect(200);
    expect(page1.body).toHaveLength(2);
    const next = /^<[^>]*(\/api\/v4\/[^>]+)>; rel="next"$/.exec(page1.headers['link'])?.[1];
    expect(next).toBeDefined();
    const page2 = await s.http
      .get(next as string)
      .set('Authorization', s.owner)
      .expect(200);
    expect(page2.body[0].id).toBeLessThan(page1.body[1].id);
  });

  it('is for owners of the top-level group only, and instance destinations for admins', async () => {
    const s = await setup();
    const r = await receiver();
    const [id] = await createDestinations(s, [r.url]);
    const { bearer } = await import('@audit/testing');
    const maintainer = bearer({ sub: '8', name: 'max', groups: { [s.groupPath]: 'maintainer' } });
    await s.http.get(`${base(s, id)}/deliveries`).expect(401);
    await s.http
      .get(`${base(s, id)}/deliveries`)
      .set('Authorization', maintainer)
      .expect(403);
    await s.http
      .post(`${base(s, id)}/replay`)
      .set('Authorization', maintainer)
      .send({ since: new Date().toISOString() })
      .expect(403);
    await s.http
      .get(`${base(s, id + 100)}/deliveries`)
      .set('Authorization', s.owner)
      .expect(404);
    await s.http
      .get(`/api/v4/admin/audit_events/streaming/destinations/${id}/deliveries`)
      .set('Authorization', s.owner)
      .expect(403);
    // A group's destination is not an instance-level one, even for an admin.
    await s.http
      .get(`/api/v4/admin/audit_events/streaming/destinations/${id}/deliveries`)
      .set('Authorization', bearer({ sub: '1', admin: true }))
      .expect(404);
  });
});

describe('pruning', () => {
  it('deletes delivered records older than the retention with their attempts, and keeps undelivered ones', async () => {
    const s = await setup({ DELIVERY_RETENTION_MS: '3600000' });
    const ok = await receiver();
    const failing = await receiver(() => ({ status: 500 }));
    const [okId, failingId] = await createDestinations(s, [ok.url, failing.url]); // only the release events below
    await send(s.topic, releases(s, 6));
    await waitFor(
      'six deliveries each',
      async () =>
        (
          await s.sql(
            `select 1 from deliveries where event_type = 'release_created' and ((destination_id = $1 and status = 'delivered') or (destination_id = $2 and attempts > 0))`,
            [okId, failingId],
          )
        ).length === 12,
    );
    await s.sql(`delete from deliveries where event_type <> 'release_created'`);
    await s.sql(
      `update deliveries set delivered_at = now() - interval '2 hours', created_at = now() - interval '2 hours' where destination_id = $1 and id in (select id from deliveries where destination_id = $2 order by id limit 4)`,
      [okId, okId],
    );
    await s.sql(`update deliveries set created_at = now() - interval '2 hours' where destination_id = $1`, [failingId]);

    expect(await s.app.get(DeliveryPruner).pruneOnce()).toBe(4);
    const left = await s.sql<{ destination_id: string; n: number }>(
      `select destination_id, count(*)::int as n from deliveries group by destination_id order by destination_id`,
    );
    expect(left.map((l) => l.n)).toEqual([2, 6]);
    const [{ orphans }] = await s.sql<{ orphans: number }>(
      `select count(*)::int as orphans from delivery_attempts a where not exists (select 1 from deliveries d where d.id = a.delivery_id)`,
    );
    expect(orphans).toBe(0);
  });
});
