import { AuditEvent } from '@audit/contracts';
import { bearer, dropDatabase, startReceiver, uniqueSuffix, waitFor } from '@audit/testing';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import request from 'supertest';
import { buildServices, RunningService, startService } from './support/services';

/*
 * The walking skeleton, end to end, with the real processes, Kafka and PostgreSQL:
 * POST a release -> release-service stores it and publishes ReleaseCreated through its outbox ->
 * audit-recorder stores release_created -> the project's audit events return it; and
 * audit-streamer POSTs the same audit event to a real HTTP receiver registered for the group.
 */
jest.setTimeout(180_000);

const suffix = uniqueSuffix();
const admin = bearer({ sub: '1', name: 'alice', admin: true });
const groupPath = `acme-${suffix}`;
let services: RunningService[] = [];
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  buildServices();
  receiver = await startReceiver();
  const common = { KAFKA_TOPIC: `e2e-events-${suffix}` };
  services = await Promise.all([
    startService('release-service', { ...common, DATABASE_NAME: `e2e_release_${suffix}` }),
    startService('audit-recorder', {
      ...common,
      DATABASE_NAME: `e2e_recorder_${suffix}`,
      KAFKA_GROUP_ID: `audit-recorder-${suffix}`,
      AUDIT_LOG_FILE: `tmp/e2e-${suffix}/audit_json.log`,
    }),
    startService('audit-streamer', {
      ...common,
      DATABASE_NAME: `e2e_streamer_${suffix}`,
      KAFKA_GROUP_ID: `audit-streamer-${suffix}`,
      STREAMING_ALLOW_HTTP: 'true',
      STREAMING_ALLOWED_HOSTS: '127.0.0.1',
    }),
  ]);
});

afterAll(async () => {
  const codes = await Promise.all(services.map((s) => s.stop()));
  await receiver?.close();
  await Promise.all(['release', 'recorder', 'streamer'].map((s) => dropDatabase(`e2e_${s}_${suffix}`)));
  // Graceful shutdown is part of the contract: every service exits 0 on SIGTERM.
  expect(codes).toEqual(services.map(() => 0));
});

const [release, recorder, streamer] = [0, 1, 2].map((i) => () => services[i].url);

describe('walking skeleton', () => {
  it('records and streams a created release', async () => {
    const group = await request(release())
      .post('/api/v4/groups')
      .set('Authorization', admin)
      .send({ path: groupPath, name: 'Acme' })
      .expect(201);
    const project = await request(release())
      .post('/api/v4/projects')
      .set('Authorization', admin)
      .send({ path: 'rocket', name: 'Rocket', namespace_id: group.body.id })
      .expect(201);
    const projectPath = `${groupPath}/rocket`;
    expect(project.body.path_with_namespace).toBe(projectPath);

    // The streamer learns about the group from its GroupCreated event, so wait until it can resolve it.
    const owner = bearer({ sub: '2', name: 'olivia', groups: { [groupPath]: 'owner' } });
    const destination = await waitFor('the streamer to know the group', async () => {
      const res = await request(streamer())
        .post(`/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`)
        .set('Authorization', owner)
        .send({ destination_url: receiver.url });
      return res.status === 201
        ? res.body
        : res.status === 404
          ? undefined
          : Promise.reject(new Error(`${res.status} ${JSON.stringify(res.body)}`));
    });
    expect(destination.verification_token).toMatch(/^[A-Za-z0-9]{24}$/);
    await request(streamer())
      .post(`/api/v4/groups/${group.body.id}/audit_events/streaming/destinations/${destination.id}/headers`)
      .set('Authorization', owner)
      .send({ key: 'X-Siem-Tenant', value: 'acme-prod' })
      .expect(201);

    const developer = bearer({ sub: '3', name: 'dev', groups: { [projectPath]: 'developer' } });
    await request(release())
      .post(`/api/v4/projects/${encodeURIComponent(projectPath)}/releases`)
      .set('Authorization', developer)
      .set('X-Correlation-Id', `corr-${suffix}`)
      .send({ tag_name: 'v0.3', name: 'New Release' })
      .expect(201);

    const maintainer = bearer({ sub: '4', name: 'maria', groups: { [projectPath]: 'maintainer' } });
    const recorded = await waitFor('the recorder to store release_created', async () => {
      const res = await request(recorder())
        .get(`/api/v4/projects/${project.body.id}/audit_events`)
        .set('Authorization', maintainer)
        .expect(200);
      return (res.body as AuditEvent[]).find((e) => e.event_type === 'release_created');
    });
    expect(recorded).toMatchObject({
      author_id: 3,
      author_name: 'dev',
      entity_id: project.body.id,
      entity_type: 'Project',
      entity_path: projectPath,
      target_type: 'Release',
      target_details: 'New Release',
      ip_address: '127.0.0.1',
      details: { custom_message: 'Created Release v0.3', correlation_id: `corr-${suffix}` },
    });

    const delivered = await waitFor('the receiver to get release_created', () =>
      receiver.requests.find((r) => r.headers['x-gitlab-audit-event-type'] === 'release_created'),
    );
    expect(delivered.method).toBe('POST');
    expect(delivered.headers['content-type']).toBe('application/json');
    expect(delivered.headers['x-gitlab-event-streaming-token']).toBe(destination.verification_token);
    expect(delivered.headers['x-siem-tenant']).toBe('acme-prod');
    expect(JSON.parse(delivered.body)).toEqual(recorded);
    expect(delivered.headers['webhook-id']).toBe(recorded.id);
    expect(delivered.headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+=*$/);
    expect(Math.abs(Number(delivered.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(300);
  });

  it('refuses an anonymous read and a reporter, as problem+json', async () => {
    const anonymous = await request(recorder()).get('/api/v4/audit_events').expect(401);
    expect(anonymous.headers['content-type']).toMatch(/^application\/problem\+json/);
    const reporter = bearer({ sub: '5', name: 'rita', groups: { [groupPath]: 'reporter' } });
    await request(recorder())
      .get(`/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events`)
      .set('Authorization', reporter)
      .expect(403);
  });
});

describe('configuration errors', () => {
  it.each([
    ['audit-recorder', { PORT: 'eighty' }, 'PORT'],
    ['release-service', { KAFKA_BROKERS: 'no-port-here' }, 'KAFKA_BROKERS'],
    ['audit-streamer', { NODE_ENV: 'production', ENCRYPTION_KEY: '' }, 'AUTH_JWT_SECRET'],
    // Production never signs checkpoints with the repository's (public) development key.
    [
      'audit-recorder',
      { NODE_ENV: 'production', AUTH_JWT_SECRET: 'e2e-production-secret-0123456789abcdef' },
      'AUDIT_SIGNING_KEY_FILE',
    ],
    ['audit-recorder', { AUDIT_SIGNING_KEY_FILE: 'package.json' }, 'AUDIT_SIGNING_KEY_FILE'],
    ['audit-recorder', { AUDIT_RETENTION_DAYS: '0' }, 'AUDIT_RETENTION_DAYS'],
    ['audit-recorder', { AUDIT_LEGAL_HOLD: 'maybe' }, 'AUDIT_LEGAL_HOLD'],
    ['audit-recorder', { METRICS_ENABLED: 'maybe' }, 'METRICS_ENABLED'],
    ['release-service', { OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318' }, 'OTEL_EXPORTER_OTLP_ENDPOINT'],
    ['audit-streamer', { OTEL_TRACES_SAMPLER_ARG: '2' }, 'OTEL_TRACES_SAMPLER_ARG'],
  ] as const)('stops %s at boot on %j, naming the variable', async (name, env, variable) => {
    const result = spawnSync(process.execPath, [join('dist', 'apps', name, 'src', 'main.js')], {
      cwd: join(__dirname, '..'),
      env: { PATH: process.env['PATH'] ?? '', ...env },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(`${variable}:`);
  });

  it('stops with one fatal line and exit code 1 when PostgreSQL cannot be reached', () => {
    const result = spawnSync(process.execPath, [join('dist', 'apps', 'audit-recorder', 'src', 'main.js')], {
      cwd: join(__dirname, '..'),
      env: {
        PATH: process.env['PATH'] ?? '',
        DATABASE_URL: 'postgres://audit_recorder@127.0.0.1:1/postgres',
        DATABASE_MIGRATION_URL: 'postgres://audit_recorder_owner@127.0.0.1:1/postgres',
        PORT: '39999',
      },
      encoding: 'utf8',
      timeout: 30_000,
    });
    expect(result.status).toBe(1);
    const fatal = result.stderr
      .trim()
      .split('\n')
      .map((l) => {
        try {
          return JSON.parse(l) as { level?: string; msg?: string };
        } catch {
          return {};
        }
      })
      .find((l) => l.level === 'fatal');
    expect(fatal?.msg).toMatch(/ECONNREFUSED/);
  });
});
