import { DomainEvent } from '@audit/contracts';
import { bearer } from '@audit/testing';
import request from 'supertest';
import {
  ALLOWED_URL,
  destinationIdOf,
  insertNamespaces,
  outboxCount,
  startStreamer,
  StreamerUnderTest,
} from '../../test/destinations.int-support';

/*
 * The destinations API against the real PostgreSQL and Kafka: CRUD, who may do what (group owners,
 * subgroups, admins), the limit per group, the URL policy over HTTP, and the audit event each change
 * publishes through the outbox (and none for a refused request).
 */
jest.setTimeout(120_000);

const owner = bearer({ sub: '7', name: 'olivia', groups: { acme: 'owner', limits: 'owner' } });
const admin = bearer({ sub: '1', name: 'root', admin: true });
const base = (group: string) => `/api/v4/groups/${encodeURIComponent(group)}/audit_events/streaming/destinations`;
const ADMIN_BASE = '/api/v4/admin/audit_events/streaming/destinations';

let streamer: StreamerUnderTest;
let http: ReturnType<typeof request>;

beforeAll(async () => {
  streamer = await startStreamer('dest');
  http = request(streamer.app.getHttpServer());
  await insertNamespaces(streamer, [
    { kind: 'Group', id: 100, full_path: 'acme', parent_id: null },
    { kind: 'Group', id: 101, full_path: 'acme/team', parent_id: 100 },
    { kind: 'Group', id: 200, full_path: 'other', parent_id: null },
    { kind: 'Group', id: 300, full_path: 'limits', parent_id: null },
  ]);
});
afterAll(async () => {
  await streamer?.close();
});

describe('streaming destinations API (real PostgreSQL and Kafka)', () => {
  it('creates, lists, reads, updates and deletes a destination, each change an audit event on the topic', async () => {
    const created = await http
      .post(base('acme'))
      .set('Authorization', owner)
      .set('X-Correlation-Id', 'corr-crud')
      .send({ destination_url: ALLOWED_URL })
      .expect(201);
    expect(created.body).toMatchObject({
      name: expect.stringMatching(/^Destination_[0-9a-f]{8}$/),
      destination_url: ALLOWED_URL,
      event_type_filters: [],
      active: true,
      headers: [],
    });
    expect(created.body.verification_token).toMatch(/^[A-Za-z0-9]{24}$/);
    expect(created.body.signing_secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    const id = created.body.id as number;

    const listed = await http.get(base('100')).set('Authorization', owner).expect(200);
    expect(listed.body).toEqual([expect.objectContaining({ id, verification_token: created.body.verification_token })]);
    expect(listed.body[0]).not.toHaveProperty('signing_secret');
    const read = await http
      .get(`${base('acme')}/${id}`)
      .set('Authorization', owner)
      .expect(200);
    expect(read.body).not.toHaveProperty('signing_secret');

    const patched = await http
      .patch(`${base('acme')}/${id}`)
      .set('Authorization', owner)
      .send({
        name: 'SIEM',
        destination_url: 'https://127.0.0.2:9/v2',
        event_type_filters: ['release_created', 'release_deleted'],
      })
      .expect(200);
    expect(patched.body).toMatchObject({
      id,
      name: 'SIEM',
      destination_url: 'https://127.0.0.2:9/v2',
      event_type_filters: ['release_created', 'release_deleted'],
      verification_token: created.body.verification_token,
    });
    await http
      .patch(`${base('acme')}/${id}`)
      .set('Authorization', owner)
      .send({ event_type_filters: ['no_such_type'] })
      .expect(400);

    await http
      .delete(`${base('acme')}/${id}`)
      .set('Authorization', owner)
      .expect(204);
    await http
      .get(`${base('acme')}/${id}`)
      .set('Authorization', owner)
      .expect(404);

    const mine = (e: DomainEvent) => destinationIdOf(e) === id;
    const createdEvent = await streamer.waitForEvent('StreamingDestinationCreated', mine);
    expect(createdEvent).toMatchObject({
      actor: { id: 7, name: 'olivia', ip_address: '127.0.0.1' },
      scope: { entity_type: 'Group', entity_id: 100, entity_path: 'acme' },
      correlation_id: 'corr-crud',
      data: { destination_url: ALLOWED_URL, event_type_filters: [] },
    });
    const updated = await streamer.waitForEvent('StreamingDestinationUpdated', mine);
    expect(updated.data).toMatchObject({
      destination_name: 'SIEM',
      changes: {
        name: { from: created.body.name, to: 'SIEM' },
        destination_url: { from: ALLOWED_URL, to: 'https://127.0.0.2:9/v2' },
        event_type_filters: { from: [], to: ['release_created', 'release_deleted'] },
      },
    });
    await streamer.waitForEvent('StreamingDestinationDeleted', mine);
    const ofThis = streamer.published().filter((p) => destinationIdOf(p.event) === id);
    expect(ofThis.map((p) => p.event.type)).toEqual([
      'StreamingDestinationCreated',
      'StreamingDestinationUpdated',
      'StreamingDestinationDeleted',
    ]);
    expect(ofThis.every((p) => p.key === 'Group:100')).toBe(true);
    expect(
      ofThis.some(
        (p) => p.raw.includes(created.body.verification_token) || p.raw.includes(created.body.signing_secret),
      ),
    ).toBe(false);
  });

  it('lets only owners of the top-level group in, and names the top-level group to a subgroup path', async () => {
    const cases: Array<[string, string | undefined, number]> = [
      [base('acme'), undefined, 401],
      [base('acme'), bearer({ sub: '8', name: 'mia', groups: { acme: 'maintainer' } }), 403],
      // No role on acme at all: told what an unknown group tells, so a group's existence cannot be probed.
      [base('acme'), bearer({ sub: '9', name: 'oscar', groups: { other: 'owner' } }), 404],
      [base('nope'), owner, 404],
    ];
    for (const [path, token, status] of cases) {
      const req = http.get(path);
      const res = await (token ? req.set('Authorization', token) : req).expect(status);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const sub = await http
      .post(base('acme/team'))
      .set('Authorization', owner)
      .send({ destination_url: ALLOWED_URL })
      .expect(400);
    expect(sub.body.detail).toMatch(/top-level group; use acme$/);
    expect(sub.body.errors).toEqual([{ field: 'id', message: expect.stringContaining('use acme') }]);

    const theirs = await http
      .post(base('other'))
      .set('Authorization', admin)
      .send({ destination_url: ALLOWED_URL })
      .expect(201);
    await http
      .get(`${base('acme')}/${theirs.body.id}`)
      .set('Authorization', owner)
      .expect(404);
    await http
      .delete(`${base('acme')}/${theirs.body.id}`)
      .set('Authorization', owner)
      .expect(404);
    await http
      .get(`${base('acme')}/not-a-number`)
      .set('Authorization', owner)
      .expect(404);
  });

  it('manages instance-level destinations for admins only, recorded at instance scope', async () => {
    await http.post(ADMIN_BASE).send({ destination_url: ALLOWED_URL }).expect(401);
    await http.post(ADMIN_BASE).set('Authorization', owner).send({ destination_url: ALLOWED_URL }).expect(403);
    await http.get(ADMIN_BASE).set('Authorization', owner).expect(403);
    const created = await http
      .post(ADMIN_BASE)
      .set('Authorization', admin)
      .send({ destination_url: ALLOWED_URL, name: 'Instance SIEM' })
      .expect(201);
    const listed = await http.get(ADMIN_BASE).set('Authorization', admin).expect(200);
    expect(listed.body.map((d: { id: number }) => d.id)).toEqual([created.body.id]);
    await http
      .get(`${base('acme')}/${created.body.id}`)
      .set('Authorization', admin)
      .expect(404);
    await http
      .patch(`${ADMIN_BASE}/${created.body.id}`)
      .set('Authorization', admin)
      .send({ active: false })
      .expect(200);
    const header = await http
      .post(`${ADMIN_BASE}/${created.body.id}/headers`)
      .set('Authorization', admin)
      .send({ key: 'X-Tenant', value: 'all' })
      .expect(201);
    await http
      .delete(`${ADMIN_BASE}/${created.body.id}/headers/${header.body.id}`)
      .set('Authorization', admin)
      .expect(204);

    const event = await streamer.waitForEvent(
      'StreamingDestinationCreated',
      (e) => destinationIdOf(e) === created.body.id,
    );
    expect(event.scope).toEqual({ entity_type: 'Instance', entity_id: 1, entity_path: 'instance' });
    expect(event.actor).toMatchObject({ id: 1, name: 'root' });
    const updated = await streamer.waitForEvent(
      'StreamingDestinationUpdated',
      (e) => destinationIdOf(e) === created.body.id,
    );
    expect(updated.data).toMatchObject({ changes: { active: { from: true, to: false } } });
  });

  it('refuses a sixth destination of a group with the reason', async () => {
    for (let i = 1; i <= 5; i++)
      await http
        .post(base('limits'))
        .set('Authorization', owner)
        .send({ destination_url: `https://127.0.0.2:9/${i}` })
        .expect(201);
    const before = await outboxCount(streamer);
    const res = await http
      .post(base('limits'))
      .set('Authorization', owner)
      .send({ destination_url: 'https://127.0.0.2:9/6' })
      .expect(400);
    expect(res.body.detail).toBe('the limit of 5 streaming destinations is reached for this group');
    expect(await outboxCount(streamer)).toBe(before);
    const listed = await http.get(base('limits')).set('Authorization', owner).expect(200);
    expect(listed.body).toHaveLength(5);
  });

  it.each([
    ['http://127.0.0.2:9/ingest', 'must use https'],
    ['https://127.0.0.1/ingest', 'is blocked'],
    ['https://10.0.0.1/ingest', 'is blocked'],
    ['https://169.254.169.254/latest/meta-data', 'is blocked'],
    ['https://[::1]/ingest', 'is blocked'],
    ['https://user:pw@127.0.0.2/ingest', 'must not contain credentials'],
    ['not a url', 'is not a valid URL'],
  ])('refuses the destination URL %s with a 400 on destination_url', async (url, reason) => {
    const res = await http.post(base('acme')).set('Authorization', owner).send({ destination_url: url }).expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.body.errors).toEqual([{ field: 'destination_url', message: expect.stringContaining(reason) }]);
  });

  it('re-checks a changed URL and publishes nothing for any refused request', async () => {
    const created = await http
      .post(base('acme'))
      .set('Authorization', owner)
      .send({ destination_url: ALLOWED_URL, name: 'Recheck' })
      .expect(201);
    const path = `${base('acme')}/${created.body.id}`;
    const before = await outboxCount(streamer);
    await http
      .patch(path)
      .set('Authorization', owner)
      .send({ destination_url: 'https://169.254.169.254/' })
      .expect(400);
    await http.patch(path).set('Authorization', owner).send({}).expect(400);
    await http
      .patch(path)
      .set('Authorization', owner)
      .send({ verification_token: 'x'.repeat(24) })
      .expect(400);
    await http.patch(path).set('Authorization', owner).send({ name: 'SIEM' }).expect(200);
    await http
      .post(base('acme'))
      .set('Authorization', owner)
      .send({ destination_url: ALLOWED_URL, name: 'siem' })
      .expect(400);
    await http
      .post(base('acme'))
      .set('Authorization', owner)
      .send({ destination_url: ALLOWED_URL, event_type_filters: ['nope_type'] })
      .expect(400);
    await http
      .post(base('acme'))
      .set('Authorization', bearer({ sub: '8', name: 'mia', groups: { acme: 'maintainer' } }))
      .send({ destination_url: ALLOWED_URL })
      .expect(403);
    // Only the rename above is a change.
    expect(await outboxCount(streamer)).toBe(before + 1);
    const same = await http.patch(path).set('Authorization', owner).send({ name: 'SIEM' }).expect(200);
    expect(same.body.name).toBe('SIEM');
    expect(await outboxCount(streamer)).toBe(before + 1);
  });
});

describe('IPv6 spellings of internal IPv4 addresses, where http and 127.0.0.1 are allowed (as in the delivery tests)', () => {
  let permissive: StreamerUnderTest;
  beforeAll(async () => {
    permissive = await startStreamer('dest_v6', { STREAMING_ALLOW_HTTP: 'true', STREAMING_ALLOWED_HOSTS: '127.0.0.1' });
    await insertNamespaces(permissive, [{ kind: 'Group', id: 100, full_path: 'acme', parent_id: null }]);
  });
  afterAll(async () => {
    await permissive?.close();
  });

  it('refuses http://[::127.0.0.1]/ (IPv4-compatible) with a 400 on destination_url; the allowed 127.0.0.1 itself passes', async () => {
    const api = request(permissive.app.getHttpServer());
    for (const url of ['http://[::127.0.0.1]/', 'http://[::a00:1]/', 'http://[::a9fe:a9fe]/latest/meta-data']) {
      const res = await api.post(base('acme')).set('Authorization', owner).send({ destination_url: url }).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors).toEqual([{ field: 'destination_url', message: expect.stringContaining('is blocked') }]);
    }
    await api
      .post(base('acme'))
      .set('Authorization', owner)
      .send({ destination_url: 'http://127.0.0.1:9/ingest' })
      .expect(201);
  });
});
