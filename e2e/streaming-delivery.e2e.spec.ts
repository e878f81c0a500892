import { AuditEvent } from '@audit/contracts';
import { bearer, dropDatabase, ReceivedRequest, startReceiver, uniqueSuffix, waitFor } from '@audit/testing';
import { Webhook } from 'standardwebhooks';
import request from 'supertest';
import { buildServices, RunningService, startService } from './support/services';

/*
 * Streaming end to end with the three services as processes, Kafka, PostgreSQL and real HTTP
 * receivers: exact body and headers, Standard Webhooks signatures checked by an independent
 * implementation, streaming-only events, filters, subgroups, and a streamer killed mid-batch.
 */
jest.setTimeout(240_000);

const suffix = uniqueSuffix();
const admin = bearer({ sub: '1', name: 'alice', admin: true });
const top = `sec-${suffix}`;
const owner = bearer({ sub: '2', name: 'olivia', groups: { [top]: 'owner' } });
const maintainer = bearer({ sub: '4', name: 'maria', groups: { [top]: 'maintainer' } });
const streamerEnv = {
  KAFKA_TOPIC: `e2e-stream-${suffix}`,
  DATABASE_NAME: `e2e_streamer_${suffix}`,
  KAFKA_GROUP_ID: `audit-streamer-${suffix}`,
  STREAMING_ALLOW_HTTP: 'true',
  STREAMING_ALLOWED_HOSTS: '127.0.0.1',
};
let release: RunningService, recorder: RunningService, streamer: RunningService;
let all: Awaited<ReturnType<typeof startReceiver>>, filtered: Awaited<ReturnType<typeof startReceiver>>;
let projectPath = '';
let projectId = 0;
const destinations: Array<{ id: number; verification_token: string; signing_secret: string }> = [];

beforeAll(async () => {
  buildServices();
  [all, filtered] = await Promise.all([startReceiver(), startReceiver()]);
  const common = { KAFKA_TOPIC: streamerEnv.KAFKA_TOPIC };
  [release, recorder, streamer] = await Promise.all([
    startService('release-service', { ...common, DATABASE_NAME: `e2e_release_${suffix}` }),
    startService('audit-recorder', {
      ...common,
      DATABASE_NAME: `e2e_recorder_${suffix}`,
      KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
      AUDIT_LOG_FILE: `tmp/e2e-${suffix}/audit_json.log`,
    }),
    startService('audit-streamer', streamerEnv),
  ]);
  const group = await request(release.url)
    .post('/api/v4/groups')
    .set('Authorization', admin)
    .send({ path: top, name: 'Sec' })
    .expect(201);
  const sub = await request(release.url)
    .post('/api/v4/groups')
    .set('Authorization', admin)
    .send({ path: 'platform', name: 'Platform', parent_id: group.body.id })
    .expect(201);
  const project = await request(release.url)
    .post('/api/v4/projects')
    .set('Authorization', admin)
    .send({ path: 'api', name: 'API', namespace_id: sub.body.id })
    .expect(201);
  projectPath = `${top}/platform/api`;
  projectId = project.body.id;
  for (const [url, filters] of [
    [all.url, []],
    [filtered.url, ['release_created']],
  ] as const) {
    const created = await waitFor('the streamer to know the group', async () => {
      const res = await request(streamer.url)
        .post(`/api/v4/groups/${encodeURIComponent(top)}/audit_events/streaming/destinations`)
        .set('Authorization', owner)
        .send({ destination_url: url, event_type_filters: filters });
      return res.status === 201
        ? res.body
        : res.status === 404
          ? undefined
          : Promise.reject(new Error(`${res.status} ${JSON.stringify(res.body)}`));
    });
    destinations.push(created);
  }
});

afterAll(async () => {
  await Promise.all([release, recorder, streamer].filter(Boolean).map((s) => s.stop()));
  await Promise.all([all, filtered].filter(Boolean).map((r) => r.close()));
  await Promise.all(['release', 'recorder', 'streamer'].map((s) => dropDatabase(`e2e_${s}_${suffix}`)));
});

const ofType = (requests: ReceivedRequest[], type: string) =>
  requests.filter((r) => r.headers['x-gitlab-audit-event-type'] === type);
const recorded = async (): Promise<AuditEvent[]> =>
  (
    await request(recorder.url)
      .get(`/api/v4/projects/${projectId}/audit_events?per_page=100`)
      .set('Authorization', maintainer)
      .expect(200)
  ).body;

function expectContractRequest(r: ReceivedRequest, destination: (typeof destinations)[number]): void {
  expect(r.method).toBe('POST');
  expect(r.headers['content-type']).toBe('application/json');
  expect(r.headers['x-gitlab-event-streaming-token']).toBe(destination.verification_token);
  const event = JSON.parse(r.body) as AuditEvent;
  expect(r.headers['x-gitlab-audit-event-type']).toBe(event.event_type);
  expect(r.headers['webhook-id']).toBe(event.id);
  expect(Math.abs(Number(r.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
  const headers = Object.fromEntries(Object.entries(r.headers).map(([k, v]) => [k, String(v)]));
  expect(new Webhook(destination.signing_secret).verify(r.body, headers)).toEqual(event);
}

describe('streaming delivery end to end', () => {
  it('streams the recorded events byte-for-byte as the recorder stores them, signed, filtered, subgroup included', async () => {
    const dev = bearer({ sub: '3', name: 'dev', groups: { [projectPath]: 'developer' } });
    const releases = `/api/v4/projects/${encodeURIComponent(projectPath)}/releases`;
    await request(release.url)
      .post(releases)
      .set('Authorization', dev)
      .send({ tag_name: 'v1.0', name: 'One' })
      .expect(201);
    const link = await request(release.url)
      .post(`${releases}/v1.0/assets/links`)
      .set('Authorization', maintainer)
      .send({ name: 'bin', url: 'https://example.com/bin.tgz' })
      .expect(201);
    const download = await request(release.url)
      .get(`${releases}/v1.0/downloads/${link.body.id}`)
      .set('Authorization', dev);
    expect(download.status).toBeLessThan(400);

    const created = await waitFor(
      'release_created at both receivers',
      () =>
        ofType(all.requests, 'release_created')[0] &&
        ofType(filtered.requests, 'release_created')[0] && [
          ofType(all.requests, 'release_created')[0],
          ofType(filtered.requests, 'release_created')[0],
        ],
    );
    const downloaded = await waitFor(
      'the streaming-only download event',
      () => ofType(all.requests, 'release_artifact_downloaded')[0],
    );
    const stored = await waitFor('the recorder to store release_created', async () =>
      (await recorded()).find((e) => e.event_type === 'release_created'),
    );

    expect(JSON.parse(created[0].body)).toEqual(stored);
    expect(created[0].body).toBe(created[1].body);
    expect(created[0].body).toBe(JSON.stringify(JSON.parse(created[0].body)));
    expectContractRequest(created[0], destinations[0]);
    expectContractRequest(created[1], destinations[1]);
    expectContractRequest(downloaded, destinations[0]);
    expect(JSON.parse(downloaded.body)).toMatchObject({
      entity_path: projectPath,
      event_type: 'release_artifact_downloaded',
    });
    // Streaming-only: never stored by the recorder.
    expect((await recorded()).some((e) => e.event_type === 'release_artifact_downloaded')).toBe(false);
    // The filter holds: the filtered destination saw release_created only.
    expect(filtered.requests.every((r) => r.headers['x-gitlab-audit-event-type'] === 'release_created')).toBe(true);
  });

  it('a streamer killed with SIGKILL mid-batch and restarted loses nothing', async () => {
    const dev = bearer({ sub: '3', name: 'dev', groups: { [projectPath]: 'developer' } });
    const releases = `/api/v4/projects/${encodeURIComponent(projectPath)}/releases`;
    const tags = Array.from({ length: 40 }, (_, i) => `k${i}`);
    const before = ofType(all.requests, 'release_created').length;
    const posting = (async () => {
      for (const tag of tags)
        await request(release.url).post(releases).set('Authorization', dev).send({ tag_name: tag }).expect(201);
    })();
    await waitFor('some of the batch to arrive', () => ofType(all.requests, 'release_created').length > before + 3);
    expect(await streamer.stop('SIGKILL')).toBeNull();
    await posting;
    streamer = await startService('audit-streamer', streamerEnv);
    const wanted = new Set(
      (
        await waitFor(
          'the recorder to store all 40',
          async () => {
            const events = (await recorded()).filter(
              (e) =>
                e.event_type === 'release_created' &&
                tags.some((t) => (e.details as { custom_message?: string }).custom_message === `Created Release ${t}`),
            );
            return events.length === 40 && events;
          },
          { timeoutMs: 60_000 },
        )
      ).map((e) => e.id),
    );
    await waitFor(
      'every event at the receiver after the restart',
      () => {
        const got = new Set(ofType(all.requests, 'release_created').map((r) => String(r.headers['webhook-id'])));
        return [...wanted].every((id) => got.has(id));
      },
      { timeoutMs: 60_000 },
    );
  });
});
