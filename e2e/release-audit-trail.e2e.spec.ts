import { AuditEvent } from '@audit/contracts';
import { bearer, dropDatabase, uniqueSuffix, waitFor } from '@audit/testing';
import request from 'supertest';
import { buildServices, RunningService, startService } from './support/services';

/*
 * The documented release audit trail, end to end with the real processes, Kafka and PostgreSQL:
 * the release actions go through the release-service HTTP API, and the audit-recorder's query API
 * returns exactly the audit events docs/contracts.md ("Audit event types for releases") describes,
 * field by field; the streaming-only download is not stored.
 */
jest.setTimeout(240_000);

const suffix = uniqueSuffix();
const groupPath = `releases-${suffix}`;
const projectPath = `${groupPath}/rocket`;
const databases = [`e2e_trail_release_${suffix}`, `e2e_trail_recorder_${suffix}`];

const users = {
  admin: { sub: '1', name: 'alice', admin: true },
  owner: { sub: '2', name: 'olivia', groups: { [groupPath]: 'owner' as const } },
  developer: { sub: '3', name: 'dev', groups: { [projectPath]: 'developer' as const } },
  maintainer: { sub: '4', name: 'maria', groups: { [projectPath]: 'maintainer' as const } },
};
const token = (user: keyof typeof users) => bearer(users[user]);
const author = (user: keyof typeof users) => ({ author_id: Number(users[user].sub), author_name: users[user].name });

let services: RunningService[] = [];
const release = () => services[0].url;
const recorder = () => services[1].url;

beforeAll(async () => {
  buildServices();
  const common = { KAFKA_TOPIC: `e2e-trail-events-${suffix}` };
  services = await Promise.all([
    startService('release-service', { ...common, DATABASE_NAME: databases[0] }),
    startService('audit-recorder', {
      ...common,
      DATABASE_NAME: databases[1],
      KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
      AUDIT_LOG_FILE: `tmp/e2e-trail-${suffix}/audit_json.log`,
    }),
  ]);
});

afterAll(async () => {
  const codes = await Promise.all(services.map((s) => s.stop()));
  await Promise.all(databases.map(dropDatabase));
  // Graceful shutdown is part of the contract: every service exits 0 on SIGTERM.
  expect(codes).toEqual(services.map(() => 0));
});

const UTC_MS = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('release audit trail (as documented)', () => {
  it('records every release action with the messages, targets and changes of docs/contracts.md', async () => {
    // --- Setup: a group (admin), a project (owner of the group), two milestones (developer). ---
    const group = await request(release())
      .post('/api/v4/groups')
      .set('Authorization', token('admin'))
      .send({ path: groupPath, name: 'Releases' })
      .expect(201);
    const project = await request(release())
      .post('/api/v4/projects')
      .set('Authorization', token('owner'))
      .send({ path: 'rocket', name: 'Rocket', namespace_id: group.body.id })
      .expect(201);
    expect(project.body.path_with_namespace).toBe(projectPath);
    const projectId: number = project.body.id;
    const api = `/api/v4/projects/${encodeURIComponent(projectPath)}`;
    const m10 = await request(release())
      .post(`${api}/milestones`)
      .set('Authorization', token('developer'))
      .send({ title: 'v1.0' })
      .expect(201);
    const m11 = await request(release())
      .post(`${api}/milestones`)
      .set('Authorization', token('developer'))
      .send({ title: 'v1.1' })
      .expect(201);

    // --- The documented release actions. ---
    // Created without milestones; the only request with X-Correlation-Id and X-Forwarded-For: the
    // correlation id is kept, the forwarded address is not believed (TRUSTED_PROXIES is unset).
    const correlationId = `corr-${suffix}`;
    const v03 = await request(release())
      .post(`${api}/releases`)
      .set('Authorization', token('developer'))
      .set('X-Correlation-Id', correlationId)
      .set('X-Forwarded-For', '203.0.113.7')
      .send({ tag_name: 'v0.3', name: 'New Release', description: 'first draft of the notes' })
      .expect(201);
    const v04 = await request(release())
      .post(`${api}/releases`)
      .set('Authorization', token('developer'))
      .send({ tag_name: 'v0.4', name: 'Next Release', milestones: ['v1.0', 'v1.1'] })
      .expect(201);
    expect(v04.body.milestones).toEqual([{ title: 'v1.0' }, { title: 'v1.1' }]);

    const updated = await request(release())
      .put(`${api}/releases/v0.3`)
      .set('Authorization', token('developer'))
      .send({ name: 'Renamed Release', description: 'confidential rewrite of the notes' })
      .expect(200);
    expect(updated.body).toMatchObject({ name: 'Renamed Release', description: 'confidential rewrite of the notes' });
    const rescheduled = await request(release())
      .put(`${api}/releases/v0.4`)
      .set('Authorization', token('developer'))
      .send({ milestones: ['v1.1'] })
      .expect(200);
    expect(rescheduled.body.milestones).toEqual([{ title: 'v1.1' }]);

    const linkUrl = 'https://downloads.example.com/rocket/v0.3/rocket-linux-amd64.tar.gz';
    const link = await request(release())
      .post(`${api}/releases/v0.3/assets/links`)
      .set('Authorization', token('developer'))
      .send({ name: 'Linux binary', url: linkUrl })
      .expect(201);
    const download = await request(release())
      .get(`${api}/releases/v0.3/downloads/${link.body.id}`)
      .set('Authorization', token('developer'))
      .redirects(0)
      .expect(302);
    expect(download.headers['location']).toBe(linkUrl);

    await request(release()).delete(`${api}/releases/v0.3`).set('Authorization', token('developer')).expect(403);
    const deleted = await request(release())
      .delete(`${api}/releases/v0.3`)
      .set('Authorization', token('maintainer'))
      .expect(200);

    // --- What the recorder stored, through its query API, read by a maintainer of the project. ---
    const expectedTypes = [
      'project_created',
      'milestone_created',
      'milestone_created',
      'release_created',
      'release_created',
      'release_updated',
      'release_milestones_updated',
      'release_asset_link_added',
      'release_deleted',
    ];
    const list = async (query: string): Promise<AuditEvent[]> => {
      const res = await request(recorder())
        .get(`/api/v4/projects/${projectId}/audit_events?${query}`)
        .set('Authorization', token('maintainer'))
        .expect(200);
      return res.body as AuditEvent[];
    };
    // Events of one project share a Kafka key, so once release_deleted (the last action) is visible,
    // everything produced before it has been consumed too, the download included.
    const events = await waitFor(
      'the recorder to store the release audit trail',
      async () => {
        const found = await list('sort=asc&per_page=100');
        return found.some((e) => e.event_type === 'release_deleted') ? found : undefined;
      },
      { timeoutMs: 90_000, intervalMs: 250 },
    );

    // sort=asc: by created_at, ties by id; each action was acknowledged before the next was sent.
    const sortKey = (e: AuditEvent) => `${e.created_at}|${e.id}`;
    expect(events.map(sortKey)).toEqual([...events.map(sortKey)].sort());
    expect([...events.map((e) => e.event_type)].sort()).toEqual([...expectedTypes].sort());
    expect(new Set(events.map((e) => e.id)).size).toBe(events.length);
    for (const e of events) {
      expect(e.id).toMatch(UUID);
      expect(e.created_at).toMatch(UTC_MS);
      expect(Object.keys(e).sort()).toEqual(
        [
          'author_id',
          'author_name',
          'created_at',
          'details',
          'entity_id',
          'entity_path',
          'entity_type',
          'event_type',
          'id',
          'ip_address',
          'target_details',
          'target_id',
          'target_type',
        ].sort(),
      );
      // Descriptions are sensitive: their values appear nowhere in an audit event.
      expect(JSON.stringify(e)).not.toMatch(/notes/);
    }

    const byMessage = (message: string): AuditEvent => {
      const matching = events.filter((e) => e.details.custom_message === message);
      expect(matching.map((e) => e.details.custom_message)).toEqual([message]);
      return matching[0];
    };
    /** The full audit event of docs/contracts.md for the project, every field. */
    const expectedEvent = (
      e: AuditEvent,
      fields: {
        event_type: string;
        user: keyof typeof users;
        target_type: string;
        target_id: number;
        target_details: string;
        custom_message: string;
        extra?: Record<string, unknown>;
        correlation_id?: string;
      },
    ): AuditEvent => ({
      id: e.id,
      ...author(fields.user),
      entity_id: projectId,
      entity_type: 'Project',
      details: {
        author_name: users[fields.user].name,
        target_id: fields.target_id,
        target_type: fields.target_type,
        target_details: fields.target_details,
        custom_message: fields.custom_message,
        ip_address: '127.0.0.1',
        entity_path: projectPath,
        ...fields.extra,
        correlation_id: fields.correlation_id ?? expect.stringMatching(/.+/),
      },
      ip_address: '127.0.0.1',
      entity_path: projectPath,
      target_details: fields.target_details,
      created_at: e.created_at,
      target_type: fields.target_type,
      target_id: fields.target_id,
      event_type: fields.event_type,
    });
    const check = (
      message: string,
      fields: Omit<Parameters<typeof expectedEvent>[1], 'custom_message'>,
    ): AuditEvent => {
      const e = byMessage(message);
      expect(e).toEqual(expectedEvent(e, { ...fields, custom_message: message }));
      return e;
    };

    const v03Id: number = v03.body.id;
    const v04Id: number = v04.body.id;
    check(`Created Project ${projectPath}`, {
      event_type: 'project_created',
      user: 'owner',
      target_type: 'Project',
      target_id: projectId,
      target_details: projectPath,
    });
    check('Created Milestone v1.0', {
      event_type: 'milestone_created',
      user: 'developer',
      target_type: 'Milestone',
      target_id: m10.body.id,
      target_details: 'v1.0',
    });
    check('Created Milestone v1.1', {
      event_type: 'milestone_created',
      user: 'developer',
      target_type: 'Milestone',
      target_id: m11.body.id,
      target_details: 'v1.1',
    });
    const createdV03 = check('Created Release v0.3', {
      event_type: 'release_created',
      user: 'developer',
      target_type: 'Release',
      target_id: v03Id,
      target_details: 'New Release',
      correlation_id: correlationId,
    });
    // created_at is the domain event's occurred_at: the instant the release-service answered with.
    expect(createdV03.created_at).toBe(v03.body.created_at);
    const createdV04 = check('Created Release v0.4 with milestones v1.0, v1.1', {
      event_type: 'release_created',
      user: 'developer',
      target_type: 'Release',
      target_id: v04Id,
      target_details: 'Next Release',
    });
    expect(createdV04.created_at).toBe(v04.body.created_at);
    // The correlation id of a request without X-Correlation-Id is a fresh one, not the earlier request's.
    expect(createdV04.details['correlation_id']).not.toBe(correlationId);
    const updatedV03 = check('Updated Release v0.3', {
      event_type: 'release_updated',
      user: 'developer',
      target_type: 'Release',
      target_id: v03Id,
      target_details: 'Renamed Release', // the name after the update
      extra: { changes: [{ field: 'name', from: 'New Release', to: 'Renamed Release' }, { field: 'description' }] },
    });
    expect(updatedV03.created_at).toBe(updated.body.updated_at);
    check('Milestones associated with release changed to v1.1', {
      event_type: 'release_milestones_updated',
      user: 'developer',
      target_type: 'Release',
      target_id: v04Id,
      target_details: 'Next Release',
      extra: { changes: [{ field: 'milestones', from: ['v1.0', 'v1.1'], to: ['v1.1'] }] },
    });
    check('Added asset link Linux binary to Release v0.3', {
      event_type: 'release_asset_link_added',
      user: 'developer',
      target_type: 'Release',
      target_id: v03Id,
      target_details: 'Renamed Release',
      extra: { link_id: link.body.id, url: linkUrl },
    });
    const deletedV03 = check('Deleted Release v0.3', {
      event_type: 'release_deleted',
      user: 'maintainer',
      target_type: 'Release',
      target_id: v03Id,
      target_details: 'Renamed Release',
    });
    expect(deletedV03.created_at).toBe(deleted.body.deleted_at);

    // The actions happened in this order, one acknowledged before the next was sent.
    const order = [
      createdV03,
      createdV04,
      updatedV03,
      byMessage('Milestones associated with release changed to v1.1'),
      byMessage('Added asset link Linux binary to Release v0.3'),
      deletedV03,
    ];
    for (let i = 1; i < order.length; i += 1) expect(order[i].created_at >= order[i - 1].created_at).toBe(true);

    // The download is streaming-only: never stored, although later events of the project are.
    expect(events.filter((e) => e.event_type === 'release_artifact_downloaded')).toEqual([]);
    expect(await list('event_type=release_artifact_downloaded&per_page=100')).toEqual([]);
    const instanceWide = await request(recorder())
      .get(`/api/v4/audit_events?event_type=release_artifact_downloaded&entity_type=Project&entity_id=${projectId}`)
      .set('Authorization', token('admin'))
      .expect(200);
    expect(instanceWide.body).toEqual([]);

    // The filter works for the stored types, so the empty answer above is meaningful.
    const releaseEvents = await list('event_type=release_created&event_type=release_deleted&sort=asc');
    expect(releaseEvents.map((e) => e.details.custom_message)).toEqual([
      'Created Release v0.3',
      'Created Release v0.4 with milestones v1.0, v1.1',
      'Deleted Release v0.3',
    ]);

    // One audit event by id equals its list entry.
    const one = await request(recorder())
      .get(`/api/v4/audit_events/${updatedV03.id}`)
      .set('Authorization', token('maintainer'))
      .expect(200);
    expect(one.body).toEqual(updatedV03);
  });
});
