import { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import request from 'supertest';
import { DomainEvent, parseDomainEvent } from '@audit/contracts';
import {
  bearer,
  collectTopic,
  dropDatabase,
  serviceDatabase,
  TEST_JWT_SECRET,
  testKafka,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import { Database, installOpenApi } from '@audit/platform';
import { AppModule } from '../src/app/app.module';
import { loadReleaseServiceConfig } from '../src/config';

/*
 * The release API against the real PostgreSQL and Kafka: what each accepted write puts on the
 * topic, what each rejected one leaves behind (nothing), and who may do what.
 */
jest.setTimeout(120_000);

const suffix = uniqueSuffix();
const database = `it_release_${suffix}`;
const topic = `it-release-${suffix}`;
const kafka = testKafka('release-int');
const NOW = new Date('2026-11-21T10:15:30.123Z');
let app: INestApplication;
let http: ReturnType<typeof request>;
let received: Awaited<ReturnType<typeof collectTopic>>;

const admin = bearer({ sub: '1', name: 'root', admin: true });
const as = (role: string, path = 'acme') =>
  bearer({ sub: '42', name: `${role}-user`, groups: { [path]: role as never } });

beforeAll(async () => {
  const config = loadReleaseServiceConfig({
    ...(await serviceDatabase('release_service', database)),
    KAFKA_TOPIC: topic,
    AUTH_JWT_SECRET: TEST_JWT_SECRET,
    LOG_LEVEL: 'silent',
    TRUSTED_PROXIES: '127.0.0.1,::1',
  });
  app = await NestFactory.create(
    AppModule.forRoot(config, () => NOW),
    { logger: false },
  );
  installOpenApi(app, 'release-service', 'test');
  await app.listen(0, '127.0.0.1');
  http = request(app.getHttpServer());
  received = await collectTopic(kafka, topic, `release-int-${suffix}`);
});
afterAll(async () => {
  await received?.stop();
  await app?.close();
  await dropDatabase(database);
});

const published = (): DomainEvent[] =>
  received.messages.map((m) => {
    const parsed = parseDomainEvent(m.value);
    if (!parsed.ok) throw new Error(`invalid message on the topic: ${parsed.error}`);
    return parsed.event;
  });
const keysOf = (type: string, id: number) => received.messages.filter((m) => m.key?.toString() === `${type}:${id}`);
const count = async (table: string) =>
  Number((await app.get(Database).autocommit.query<{ n: string }>(`select count(*) as n from ${table}`))[0].n);

async function setUp(path: string) {
  const group = await http.post('/api/v4/groups').set('Authorization', admin).send({ path, name: path }).expect(201);
  const project = await http
    .post('/api/v4/projects')
    .set('Authorization', as('owner', path))
    .send({ path: 'app', name: 'App', namespace_id: group.body.id })
    .expect(201);
  for (const title of ['v1.0', 'v1.1', 'v2.0'])
    await http
      .post(`/api/v4/projects/${project.body.id}/milestones`)
      .set('Authorization', as('developer', path))
      .send({ title })
      .expect(201);
  return { groupId: group.body.id as number, projectId: project.body.id as number, projectPath: `${path}/app` };
}

describe('release-service API (real PostgreSQL and Kafka)', () => {
  it('publishes exactly the expected envelopes, in order, for every accepted write of a release lifecycle', async () => {
    const { projectId, projectPath } = await setUp(`life-${suffix}`);
    const dev = as('developer', projectPath);
    const base = `/api/v4/projects/${encodeURIComponent(projectPath)}/releases`;
    const headers = { Authorization: dev, 'X-Correlation-Id': 'corr-1234', 'X-Forwarded-For': '203.0.113.7' };

    const created = await http
      .post(base)
      .set(headers)
      .send({ tag_name: 'v0.3', name: 'New Release', description: 'secret notes', milestones: ['v1.0', 'v1.1'] })
      .expect(201);
    expect(created.body).toMatchObject({
      tag_name: 'v0.3',
      name: 'New Release',
      milestones: [{ title: 'v1.0' }, { title: 'v1.1' }],
      assets: { count: 0, links: [] },
    });
    await http
      .put(`${base}/v0.3`)
      .set(headers)
      .send({ name: 'Final', description: 'other notes', milestones: ['v2.0'] })
      .expect(200);
    await http
      .put(`${base}/v0.3`)
      .set(headers)
      .send({ name: 'Final', milestones: ['v2.0'] })
      .expect(200); // changes nothing
    const evidence = await http.post(`${base}/v0.3/evidence`).set(headers).expect(201);
    expect(evidence.body.sha).toMatch(/^[0-9a-f]{64}$/);
    const link = await http
      .post(`${base}/v0.3/assets/links`)
      .set(headers)
      .send({ name: 'binary', url: 'https://example.com/bin.tgz' })
      .expect(201);
    const download = await http
      .get(`${base}/v0.3/downloads/${link.body.id}`)
      .set({ ...headers, Authorization: as('reporter', projectPath) })
      .expect(302);
    expect(download.headers['location']).toBe('https://example.com/bin.tgz');
    await http.delete(`${base}/v0.3/assets/links/${link.body.id}`).set(headers).expect(200);
    await http
      .delete(`${base}/v0.3`)
      .set({ ...headers, Authorization: as('maintainer', projectPath) })
      .expect(200);
    await http.get(`${base}/v0.3`).set(headers).expect(404);
    const again = await http.post(base).set(headers).send({ tag_name: 'v0.3' }).expect(201);
    expect(again.body.id).not.toBe(created.body.id);

    const expected = [
      'ProjectCreated',
      'MilestoneCreated',
      'MilestoneCreated',
      'MilestoneCreated',
      'ReleaseCreated',
      'ReleaseUpdated',
      'ReleaseMilestonesChanged',
      'ReleaseEvidenceCollected',
      'ReleaseAssetLinkAdded',
      'ReleaseArtifactDownloaded',
      'ReleaseAssetLinkRemoved',
      'ReleaseDeleted',
      'ReleaseCreated',
    ];
    await waitFor('the project events on the topic', () => keysOf('Project', projectId).length >= expected.length);
    const events = published().filter((e) => e.scope.entity_type === 'Project' && e.scope.entity_id === projectId);
    expect(events.map((e) => e.type)).toEqual(expected);
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);

    const release = events.filter((e) => e.aggregate.type === 'Release' && e.aggregate.id === String(created.body.id));
    expect(release.map((e) => e.aggregate.version)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const e of release) {
      expect(e).toMatchObject({
        occurred_at: NOW.toISOString(),
        correlation_id: 'corr-1234',
        actor: { id: 42, ip_address: '203.0.113.7' },
        scope: { entity_type: 'Project', entity_id: projectId, entity_path: projectPath },
      });
    }
    expect(release.map((e) => e.actor.name)).toEqual([
      'developer-user',
      'developer-user',
      'developer-user',
      'developer-user',
      'developer-user',
      'reporter-user',
      'developer-user',
      'maintainer-user',
    ]);
    expect(release[0].data).toEqual({
      release_id: created.body.id,
      project_id: projectId,
      tag_name: 'v0.3',
      name: 'New Release',
      description: 'secret notes',
      milestones: ['v1.0', 'v1.1'],
    });
    expect(release[1].data).toMatchObject({
      name: 'Final',
      changes: { name: { from: 'New Release', to: 'Final' }, description: { from: 'secret notes', to: 'other notes' } },
    });
    expect(release[2].data).toMatchObject({ from: ['v1.0', 'v1.1'], to: ['v2.0'] });
    expect(release[5]).toMatchObject({
      actor: { name: 'reporter-user' },
      data: { link_id: link.body.id, link_name: 'binary', url: 'https://example.com/bin.tgz' },
    });
    expect(keysOf('Project', projectId).every((m) => m.key?.toString() === `Project:${projectId}`)).toBe(true);
  });

  it('lets exactly one of two concurrent updates through per version, and loses no accepted change', async () => {
    const { projectPath } = await setUp(`race-${suffix}`);
    const base = `/api/v4/projects/${encodeURIComponent(projectPath)}/releases`;
    const dev = as('developer', projectPath);
    await http.post(base).set('Authorization', dev).send({ tag_name: 'v1' }).expect(201);
    const names = Array.from({ length: 12 }, (_, i) => `name-${i}`);
    const responses = await Promise.all(
      names.map((name) => http.put(`${base}/v1`).set('Authorization', dev).send({ name })),
    );
    const ok = names.filter((_, i) => responses[i].status === 200);
    // Each accepted update answers with the release as its own write left it.
    expect(
      responses
        .filter((r) => r.status === 200)
        .map((r) => r.body.name)
        .sort(),
    ).toEqual([...ok].sort());
    expect(responses.every((r) => r.status === 200 || r.status === 409)).toBe(true);
    expect(ok.length).toBeGreaterThanOrEqual(1);

    const rows = await app
      .get(Database)
      .autocommit.query<{ payload: DomainEvent }>(
        "select payload from event_store where stream_id = (select 'Release-' || id from releases where tag_name = 'v1' and project_id = (select id from projects where full_path = $1)) order by stream_version",
        [projectPath],
      );
    const updates = rows.map((r) => r.payload).filter((e) => e.type === 'ReleaseUpdated');
    expect(updates.map((e) => (e.data as { name: string }).name).sort()).toEqual([...ok].sort());
    const final = await http.get(`${base}/v1`).set('Authorization', dev).expect(200);
    expect(final.body.name).toBe((updates[updates.length - 1].data as { name: string }).name);
  });

  it('rejects bad input with problem+json naming the field, and writes nothing', async () => {
    const { projectId } = await setUp(`bad-${suffix}`);
    const base = `/api/v4/projects/${projectId}/releases`;
    const dev = as('developer', `bad-${suffix}`);
    await http.post(base).set('Authorization', dev).send({ tag_name: 'v1' }).expect(201);
    const before = {
      events: await count('event_store'),
      outbox: await count('outbox'),
      releases: await count('releases'),
    };

    const cases: Array<[object, number, string]> = [
      [{ tag_name: '' }, 400, 'tag_name'],
      [{ tag_name: 'x'.repeat(256) }, 400, 'tag_name'],
      [{ tag_name: 'v2', colour: 'red' }, 400, 'colour'],
      [{ tag_name: 42 }, 400, 'tag_name'],
      [{ tag_name: 'v2', milestones: 'v1.0' }, 400, 'milestones'],
      [{ tag_name: 'v2', description: 'x'.repeat(50_001) }, 400, 'description'],
      [{ tag_name: 'v1' }, 409, 'tag_name'],
      [{ tag_name: 'v2', milestones: ['v1.0', 'nope'] }, 422, 'milestones'],
    ];
    for (const [body, status, field] of cases) {
      const res = await http.post(base).set('Authorization', dev).send(body);
      expect({ body, status: res.status }).toEqual({ body, status });
      expect(res.headers['content-type']).toMatch(/application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    }
    await http.put(`${base}/v1`).set('Authorization', dev).send({ name: 7 }).expect(400);
    await http
      .put(`${base}/v1`)
      .set('Authorization', dev)
      .send({ milestones: ['nope'] })
      .expect(422);
    await http.put(`${base}/nope`).set('Authorization', dev).send({ name: 'x' }).expect(404);
    await http
      .post('/api/v4/projects/999999/releases')
      .set('Authorization', admin)
      .send({ tag_name: 'v1' })
      .expect(404);
    await http
      .post(`${base}/v1/assets/links`)
      .set('Authorization', dev)
      .send({ name: 'x', url: 'javascript:alert(1)' })
      .expect(400);
    await http.delete(`${base}/v1/assets/links/123456`).set('Authorization', dev).expect(404);
    await http.get(`${base}/v1/downloads/abc`).set('Authorization', dev).expect(400);
    await http
      .post(base)
      .set('Authorization', dev)
      .set('Content-Type', 'application/json')
      .send('{"tag_name":')
      .expect(400);

    expect({
      events: await count('event_store'),
      outbox: await count('outbox'),
      releases: await count('releases'),
    }).toEqual(before);
  });

  it('enforces the roles: reporter reads, developer writes, maintainer deletes, owner creates subgroups and projects', async () => {
    const path = `perm-${suffix}`;
    const { groupId, projectId } = await setUp(path);
    const base = `/api/v4/projects/${projectId}/releases`;
    await http.get(base).expect(401);
    await http.get(base).set('Authorization', 'Bearer not-a-token').expect(401);
    await http.get(base).set('Authorization', as('guest', path)).expect(404);
    await http.get(base).set('Authorization', as('reporter', path)).expect(200);
    await http.post(base).set('Authorization', as('reporter', path)).send({ tag_name: 'v1' }).expect(403);
    await http
      .post(base)
      .set('Authorization', as('developer', `${path}/app`))
      .send({ tag_name: 'v1' })
      .expect(201);
    await http.delete(`${base}/v1`).set('Authorization', as('developer', path)).expect(403);
    await http.delete(`${base}/v1`).set('Authorization', as('maintainer', path)).expect(200);
    await http
      .post('/api/v4/groups')
      .set('Authorization', as('maintainer', path))
      .send({ path: 'sub', name: 'Sub', parent_id: groupId })
      .expect(403);
    await http
      .post('/api/v4/groups')
      .set('Authorization', as('owner', path))
      .send({ path: 'sub', name: 'Sub', parent_id: groupId })
      .expect(201);
    await http
      .post('/api/v4/groups')
      .set('Authorization', as('owner', path))
      .send({ path: 'top', name: 'Top' })
      .expect(403);
    await http
      .post('/api/v4/projects')
      .set('Authorization', as('maintainer', path))
      .send({ path: 'p2', name: 'P2', namespace_id: groupId })
      .expect(403);
  });

  it('tells a caller with no role on a group what it tells about a group that does not exist, without its path', async () => {
    const path = `hidden-${suffix}`;
    const { groupId } = await setUp(path);
    const stranger = as('owner', `elsewhere-${suffix}`);
    const answers = await Promise.all(
      [groupId, 2_000_000_000].map(async (id) => {
        const sub = await http
          .post('/api/v4/groups')
          .set('Authorization', stranger)
          .send({ path: 'sub', name: 'Sub', parent_id: id });
        const project = await http
          .post('/api/v4/projects')
          .set('Authorization', stranger)
          .send({ path: 'p', name: 'P', namespace_id: id });
        return [sub, project].map((r) => ({
          status: r.status,
          detail: String(r.body.detail).replace(String(id), 'N'),
          errors: r.body.errors,
        }));
      }),
    );
    expect(answers[0]).toEqual(answers[1]);
    expect(answers[0].map((a) => a.status)).toEqual([404, 404]);
    expect(JSON.stringify(answers[0])).not.toContain(path);
  });

  it('keeps the role of the owner of a group whose path is __proto__ or constructor', async () => {
    for (const path of ['__proto__', 'constructor']) {
      const group = await http
        .post('/api/v4/groups')
        .set('Authorization', admin)
        .send({ path, name: path })
        .expect(201);
      const owner = bearer({ sub: '5', name: 'olivia', groups: Object.fromEntries([[path, 'owner']]) });
      const project = await http
        .post('/api/v4/projects')
        .set('Authorization', owner)
        .send({ path: 'app', name: 'App', namespace_id: group.body.id })
        .expect(201);
      expect(project.body.path_with_namespace).toBe(`${path}/app`);
    }
  });

  it('lists releases newest first with a Link to the next page', async () => {
    const { projectId } = await setUp(`page-${suffix}`);
    const dev = as('developer', `page-${suffix}`);
    for (const tag of ['a1', 'a2', 'a3'])
      await http
        .post(`/api/v4/projects/${projectId}/releases`)
        .set('Authorization', dev)
        .send({ tag_name: tag })
        .expect(201);
    const first = await http
      .get(`/api/v4/projects/${projectId}/releases?per_page=2`)
      .set('Authorization', dev)
      .expect(200);
    expect(first.body.map((r: { tag_name: string }) => r.tag_name)).toEqual(['a3', 'a2']);
    const next = /<([^>]+)>; rel="next"/.exec(first.headers['link'])?.[1];
    expect(next).toBeDefined();
    const second = await http
      .get(next as string)
      .set('Authorization', dev)
      .expect(200);
    expect(second.body.map((r: { tag_name: string }) => r.tag_name)).toEqual(['a1']);
    expect(second.headers['link']).toBeUndefined();
  });

  it('serves OpenAPI documentation at /docs, generated from the schemas that validate requests', async () => {
    await http.get('/docs').expect(200).expect('Content-Type', /html/);
    const doc = (await http.get('/docs-json').expect(200)).body;
    const paths = Object.keys(doc.paths);
    for (const path of [
      '/api/v4/groups',
      '/api/v4/projects/{id}/releases',
      '/api/v4/projects/{id}/releases/{tag_name}',
      '/api/v4/projects/{id}/releases/{tag_name}/assets/links/{link_id}',
      '/api/v4/projects/{id}/releases/{tag_name}/downloads/{link_id}',
    ]) {
      expect(paths).toContain(path);
    }
    const body = doc.paths['/api/v4/projects/{id}/releases'].post.requestBody.content['application/json'].schema;
    expect(body).toMatchObject({
      required: ['tag_name'],
      additionalProperties: false,
      properties: { tag_name: { type: 'string', maxLength: 255 } },
    });
  });
});
