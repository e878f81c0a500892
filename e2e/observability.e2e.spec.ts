import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  bearer,
  dropDatabase,
  ReceivedRequest,
  RunningPrometheus,
  startPrometheus,
  startReceiver,
  uniqueSuffix,
  waitFor,
} from '@audit/testing';
import request from 'supertest';
import { buildServices, RunningService, startService } from './support/services';

/*
 * What an operator sees, with the three services as processes: each one's /metrics scraped by a real
 * Prometheus (Debian's package), read back through Prometheus's own HTTP API while seed 000's release
 * actions go through; and one trace, begun by the caller's `traceparent`, from the HTTP write through the
 * outbox, Kafka, the recorder's and the streamer's chunks to the request the SIEM receives, exported over
 * OTLP/HTTP to a real local HTTP server.
 */
jest.setTimeout(240_000);

type ServiceKey = 'release' | 'recorder' | 'streamer';
const ALERT_RULES = join(__dirname, '..', 'deploy', 'prometheus', 'alerts.yml');
const DASHBOARD = join(__dirname, '..', 'deploy', 'grafana', 'dashboards', 'audit-pipeline.json');
const suffix = uniqueSuffix();
const admin = bearer({ sub: '1', name: 'alice', admin: true });
const groupPath = `observed-${suffix}`;
const owner = bearer({ sub: '2', name: 'olivia', groups: { [groupPath]: 'owner' } });
const topic = `e2e-obs-${suffix}`;
const groups = { recorder: `audit-recorder-${suffix}`, streamer: `audit-streamer-${suffix}` };

let services: Record<ServiceKey, RunningService>;
let otlp: Awaited<ReturnType<typeof startReceiver>>;
let siem: Awaited<ReturnType<typeof startReceiver>>;
let prometheus: RunningPrometheus;
let api = '';

beforeAll(async () => {
  buildServices();
  [otlp, siem] = await Promise.all([startReceiver(), startReceiver()]);
  const telemetry = { KAFKA_TOPIC: topic, OTEL_EXPORTER_OTLP_ENDPOINT: new URL(otlp.url).origin };
  const [release, recorder, streamer] = await Promise.all([
    startService('release-service', { ...telemetry, DATABASE_NAME: `e2e_obs_release_${suffix}` }),
    startService('audit-recorder', {
      ...telemetry,
      DATABASE_NAME: `e2e_obs_recorder_${suffix}`,
      KAFKA_GROUP_ID: groups.recorder,
      AUDIT_LOG_FILE: `tmp/e2e-obs-${suffix}/audit_json.log`,
    }),
    startService('audit-streamer', {
      ...telemetry,
      DATABASE_NAME: `e2e_obs_streamer_${suffix}`,
      KAFKA_GROUP_ID: groups.streamer,
      STREAMING_ALLOW_HTTP: 'true',
      STREAMING_ALLOWED_HOSTS: '127.0.0.1',
    }),
  ]);
  services = { release, recorder, streamer };
  const target = (s: RunningService) => new URL(s.url).host;
  prometheus = await startPrometheus({
    scrapeTargets: {
      'release-service': [target(release)],
      'audit-recorder': [target(recorder)],
      'audit-streamer': [target(streamer)],
    },
    scrapeIntervalSeconds: 1,
    ruleFiles: [ALERT_RULES],
  });

  const group = await request(release.url)
    .post('/api/v4/groups')
    .set('Authorization', admin)
    .send({ path: groupPath, name: 'Observed' })
    .expect(201);
  const project = await request(release.url)
    .post('/api/v4/projects')
    .set('Authorization', admin)
    .send({ path: 'rocket', name: 'Rocket', namespace_id: group.body.id })
    .expect(201);
  api = `/api/v4/projects/${project.body.id}`;
  await waitFor('the streamer to know the group, then a destination', async () => {
    const res = await request(streamer.url)
      .post(`/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`)
      .set('Authorization', owner)
      .send({ destination_url: siem.url });
    if (res.status === 404) return undefined;
    if (res.status !== 201) throw new Error(`${res.status} ${JSON.stringify(res.body)}`);
    return res.body as unknown;
  });
});

afterAll(async () => {
  await prometheus?.stop();
  await Promise.all(Object.values(services ?? {}).map((s) => s.stop()));
  await Promise.all([otlp, siem].filter(Boolean).map((r) => r.close()));
  await Promise.all(['release', 'recorder', 'streamer'].map((s) => dropDatabase(`e2e_obs_${s}_${suffix}`)));
});

/** The value of an instant query that yields one series (a sum), or null while it yields none. */
async function scalar(expr: string): Promise<number | null> {
  const result = await prometheus.query(expr);
  return result.length === 0 ? null : Number(result[0].value[1]);
}

/** Every audit event the recorder stored (fewer than a page here), through its query API, as an administrator. */
async function storedCount(): Promise<number> {
  const res = await request(services.recorder.url)
    .get('/api/v4/audit_events?per_page=100')
    .set('Authorization', admin)
    .expect(200);
  expect(res.body.length).toBeLessThan(100);
  return (res.body as unknown[]).length;
}

describe('metrics', () => {
  it.each([
    ['release', ['http_server_request_duration_seconds', 'audit_outbox_pending_events', 'process_cpu_seconds_total']],
    [
      'recorder',
      [
        'kafka_consumer_lag',
        'audit_consumer_messages_total',
        'audit_events_stored_total',
        'nodejs_eventloop_lag_seconds',
      ],
    ],
    [
      'streamer',
      ['audit_stream_pending_deliveries', 'audit_stream_destinations', 'audit_consumer_chunk_duration_seconds'],
    ],
  ] as const)('the %s serves GET /metrics in the Prometheus text format, without a token', async (key, names) => {
    const res = await request(services[key].url).get('/metrics').expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    for (const name of names) expect(res.text).toMatch(new RegExp(`^# TYPE ${name} `, 'm'));
    // Bounded labels: no group path, user or URL of this test's data in the exposition.
    expect(res.text).not.toContain(groupPath);
    expect(res.text).not.toContain(siem.url);
  });

  it("Prometheus reads seed 000's release actions: stored events rise by the stored count, lag back to 0", async () => {
    const stored = 'sum(audit_events_stored_total{job="audit-recorder"})';
    // The set-up's events stored and scraped: the baseline.
    const before = await waitFor('the set-up events stored and scraped', async () => {
      const count = await storedCount();
      return count > 0 && (await scalar(stored)) === count ? count : undefined;
    });
    const dev = bearer({ sub: '3', name: 'dev', groups: { [`${groupPath}/rocket`]: 'developer' } });
    const send = (method: 'post' | 'put', path: string, body: object) =>
      request(services.release.url)[method](`${api}${path}`).set('Authorization', dev).send(body);
    for (const title of ['m1', 'm2']) await send('post', '/milestones', { title }).expect(201);
    await send('post', '/releases', { tag_name: 'v0.3', name: 'v0.3', milestones: ['m1', 'm2'] }).expect(201);
    await send('put', '/releases/v0.3', { description: 'notes' }).expect(200);
    await send('put', '/releases/v0.3', { milestones: ['m2'] }).expect(200);

    // Created Release v0.3 with milestones m1, m2; Updated Release v0.3; Milestones ... changed to m2 (and the milestones').
    // Both read until they agree (the events arrive over a few chunks), at least the three release events on.
    const after = await waitFor('audit_events_stored_total to rise by the stored count', async () => {
      const [count, seen] = [await storedCount(), await scalar(stored)];
      if (count < before + 3 || seen !== count) throw new Error(`Prometheus has ${seen}, the recorder stored ${count}`);
      return count;
    });
    expect(after - before).toBeGreaterThanOrEqual(3);
    const types = (await prometheus.query('audit_events_stored_total{job="audit-recorder"}')).map(
      (s) => s.metric['event_type'],
    );
    expect(types).toEqual(expect.arrayContaining(['release_created', 'release_updated', 'release_milestones_updated']));
    for (const group of [groups.recorder, groups.streamer]) {
      await waitFor(`kafka_consumer_lag of ${group} back to 0`, async () => {
        const lag = await prometheus.query(`kafka_consumer_lag{group="${group}", topic="${topic}"}`);
        return lag.length > 0 && lag.every((s) => s.value[1] === '0') ? true : undefined;
      });
    }
    // Everything consumed was processed, nothing dead-lettered; the outbox drained; the SIEM got its requests.
    expect(
      await scalar(`sum(audit_consumer_messages_total{consumer="${groups.recorder}",outcome="dead_lettered"})`),
    ).toBe(0);
    await waitFor('the outboxes drained', async () =>
      (await scalar('max(audit_outbox_pending_events)')) === 0 ? true : undefined,
    );
    await waitFor('deliveries counted', async () =>
      ((await scalar('sum(audit_stream_deliveries_total{outcome="delivered"})')) ?? 0) > 0 ? true : undefined,
    );
    expect(await scalar('sum(audit_stream_destinations{state="active"})')).toBe(1);
    expect(
      await scalar(
        'sum(http_server_request_duration_seconds_count{job="release-service",method="POST",status_code="201"})',
      ),
    ).toBeGreaterThanOrEqual(5);
    expect(
      await prometheus.query('http_server_request_duration_seconds_count{route="/api/v4/projects/:id/releases"}'),
    ).not.toHaveLength(0);
  });
});

/** SpanKind.SERVER in OTLP's numbering (1 internal, 2 server, 3 client, 4 producer, 5 consumer). */
const SERVER = 2;

/** The queries of every panel of the dashboard, with Grafana's variables as Grafana would fill them in. */
function dashboardQueries(): string[] {
  type Panel = { panels?: Panel[]; targets?: Array<{ expr?: string }> };
  const queries: string[] = [];
  const walk = (panel: Panel) => {
    for (const target of panel.targets ?? []) if (target.expr) queries.push(target.expr);
    for (const child of panel.panels ?? []) walk(child);
  };
  walk(JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Panel);
  return queries.map((q) => q.replaceAll('$__rate_interval', '1m').replaceAll('$job', '.+'));
}

describe('alert rules and dashboard against the real series', () => {
  it('every alert rule evaluates healthy and none fires on a healthy pipeline', async () => {
    // Every job scraped first: before its first scrape, `absent(up{job=…})` is rightly pending.
    await waitFor('every job scraped', async () =>
      (await prometheus.query('up == 1')).length === 3 ? true : undefined,
    );
    const scrapedAt = Date.now();
    const rules = await waitFor('every rule evaluated after the scrapes', async () => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/rules`)).json()) as {
        data: {
          groups: Array<{
            lastEvaluation: string;
            rules: Array<{ name: string; health: string; lastError?: string; state?: string }>;
          }>;
        };
      };
      const groups = body.data.groups;
      const evaluated = groups.length > 0 && groups.every((g) => Date.parse(g.lastEvaluation) > scrapedAt + 1000);
      return evaluated ? groups.flatMap((g) => g.rules) : undefined;
    });
    expect(rules.filter((r) => r.health !== 'ok')).toEqual([]);
    expect(rules.filter((r) => r.state !== 'inactive').map((r) => `${r.name}: ${r.state}`)).toEqual([]);
  });

  it('every series the alerts and the dashboard name is one the services expose, and every panel query runs', async () => {
    const exposed = await waitFor('the deliveries and requests scraped', async () => {
      const body = (await (await fetch(`${prometheus.url}/api/v1/label/__name__/values`)).json()) as { data: string[] };
      return body.data.includes('audit_stream_delivery_duration_seconds_bucket') ? new Set(body.data) : undefined;
    });
    const queries = dashboardQueries();
    expect(queries.length).toBeGreaterThan(10);
    const named = new Set(
      [readFileSync(ALERT_RULES, 'utf8'), ...queries]
        .join('\n')
        .match(/\b(?:audit|kafka|http_server|process|nodejs)_[a-z_]+\b|\bup\b/g),
    );
    expect([...named].filter((name) => !exposed.has(name))).toEqual([]);
    // Each query runs (a bad one throws with Prometheus's error); on this live pipeline most have data.
    const results = [];
    for (const query of queries) results.push(await prometheus.query(query));
    expect(results.filter((r) => r.length > 0).length).toBeGreaterThan(queries.length / 2);
  });
});

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
}

/** Every span the OTLP receiver got (JSON encoding of OTLP/HTTP), with the service that sent it. */
function exportedSpans(requests: ReceivedRequest[]): Array<OtlpSpan & { service: string }> {
  return requests
    .filter((r) => r.url === '/v1/traces')
    .flatMap((r) => {
      const body = JSON.parse(r.body) as {
        resourceSpans: Array<{
          resource: { attributes: Array<{ key: string; value: { stringValue?: string } }> };
          scopeSpans: Array<{ spans: OtlpSpan[] }>;
        }>;
      };
      return body.resourceSpans.flatMap((rs) => {
        const service = rs.resource.attributes.find((a) => a.key === 'service.name')?.value.stringValue ?? '';
        return rs.scopeSpans.flatMap((ss) => ss.spans.map((span) => ({ ...span, service })));
      });
    });
}

describe('tracing', () => {
  it('one trace from the HTTP write to the request the SIEM receives, exported over OTLP/HTTP', async () => {
    const traceId = randomBytes(16).toString('hex');
    const callerSpan = randomBytes(8).toString('hex');
    const dev = bearer({ sub: '3', name: 'dev', groups: { [`${groupPath}/rocket`]: 'developer' } });
    await request(services.release.url)
      .post(`${api}/releases`)
      .set('Authorization', dev)
      .set('traceparent', `00-${traceId}-${callerSpan}-01`)
      .send({ tag_name: 'v9.9', name: 'Traced' })
      .expect(201);

    const delivered = await waitFor('the SIEM to receive release_created of v9.9', () =>
      siem.requests.find(
        (r) => r.headers['x-gitlab-audit-event-type'] === 'release_created' && r.body.includes('v9.9'),
      ),
    );
    const received = String(delivered.headers['traceparent']);
    expect(received).toMatch(new RegExp(`^00-${traceId}-[0-9a-f]{16}-01$`));

    const spans = await waitFor('the spans of every hop exported', () => {
      const ofTrace = exportedSpans(otlp.requests).filter((s) => s.traceId === traceId);
      const client = ofTrace.find((s) => s.service === 'audit-streamer' && s.name === 'POST streaming destination');
      const recorder = ofTrace.find((s) => s.service === 'audit-recorder');
      return client && recorder ? ofTrace : undefined;
    });
    const byId = new Map(spans.map((s) => [s.spanId, s]));
    const http = spans.find((s) => s.service === 'release-service' && s.kind === SERVER);
    // The whole trace in the message when something is off: which hop broke the chain shows at once.
    const trace = spans.map((s) => `${s.service} ${s.name} ${s.spanId} <- ${s.parentSpanId ?? 'none'}`);
    expect(trace).toContain(`release-service POST /api/v4/projects/:id/releases ${http?.spanId} <- ${callerSpan}`);
    // The recorder's and the streamer's chunk spans are children of the HTTP span (through outbox row and Kafka header).
    for (const service of ['audit-recorder', 'audit-streamer']) {
      const chunk = spans.find((s) => s.service === service && s.name.endsWith(' process'));
      expect(chunk?.parentSpanId).toBe(http?.spanId);
    }
    // The delivery request's span is the chunk's child, and its context is what the SIEM received.
    const client = spans.find((s) => s.name === 'POST streaming destination');
    expect(byId.get(client?.parentSpanId ?? '')?.name).toBe(`${groups.streamer} process`);
    expect(received.split('-')[2]).toBe(client?.spanId);
    // Log lines of the request carry its trace id.
    await waitFor('a release-service log line with the trace id', () =>
      services.release.logs.some((chunk) => chunk.includes(`"trace_id":"${traceId}"`)) ? true : undefined,
    );
  });

  it('records no span of a trace that is not recorded, and sends the SIEM no context of it', async () => {
    const traceId = randomBytes(16).toString('hex');
    const dev = bearer({ sub: '3', name: 'dev', groups: { [`${groupPath}/rocket`]: 'developer' } });
    await request(services.release.url)
      .post(`${api}/releases`)
      .set('Authorization', dev)
      .set('traceparent', `00-${traceId}-${randomBytes(8).toString('hex')}-00`)
      .send({ tag_name: 'v8.8', name: 'Untraced' })
      .expect(201);
    const delivered = await waitFor('the SIEM to receive release_created of v8.8', () =>
      siem.requests.find(
        (r) => r.headers['x-gitlab-audit-event-type'] === 'release_created' && r.body.includes('v8.8'),
      ),
    );
    expect(delivered.headers['traceparent']).toBeUndefined();
    // Every service has exported what it had (a batch a second) once a later, recorded trace's spans are all in.
    const marker = randomBytes(16).toString('hex');
    await request(services.release.url)
      .post(`${api}/releases`)
      .set('Authorization', dev)
      .set('traceparent', `00-${marker}-${randomBytes(8).toString('hex')}-01`)
      .send({ tag_name: 'v8.9', name: 'Marker' })
      .expect(201);
    await waitFor('the marker trace exported by every service', () => {
      const services = new Set(
        exportedSpans(otlp.requests)
          .filter((s) => s.traceId === marker)
          .map((s) => s.service),
      );
      return services.size === 3 ? true : undefined;
    });
    expect(exportedSpans(otlp.requests).filter((s) => s.traceId === traceId)).toEqual([]);
  });
});
