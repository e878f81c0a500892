import { bearer, dropDatabase, startReceiver, uniqueSuffix, waitFor } from '@audit/testing';
// The e2e suite's process launcher, as the brief asks: the built services as processes.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { buildServices, RunningService, startService } from '../e2e/support/services';
import { recordRow } from './support/report';
import { correlationIdsStored, diff, query, snapshot } from './support/hostile/db-snapshot';
import { discoverEndpoints, Endpoint, Fixture } from './support/hostile/endpoints';
import { createFixture, quiesce } from './support/hostile/fixture';
import { closeClient, HostileRequest, inParallel, send } from './support/hostile/http-client';
import { accepted, describe as explain, judge, Outcome } from './support/hostile/judge';
import { prng, seedFromEnv } from './support/hostile/prng';
import { variantsOf } from './support/hostile/variants';

/*
 * Fault scenario 8: hostile HTTP input on every endpoint of the three services (from their OpenAPI
 * documents, GraphQL and the health routes included). Bar: never a 5xx, every refusal a
 * problem+json, and no stored side effect of a refused request: the requests that must be refused
 * run first between two digests of every table; the others (which may be accepted, e.g. a valid
 * body with emoji) carry correlation ids, so whatever they stored is attributed to them.
 */
jest.setTimeout(300_000);

const SHORT = process.env['FAULTS_PROFILE'] === 'short';
const seed = seedFromEnv();
const rng = prng(seed);
const suffix = uniqueSuffix();
const databases = { release: `faults_hx_release_${suffix}`, recorder: `faults_hx_recorder_${suffix}`, streamer: `faults_hx_streamer_${suffix}` };
const dbList = Object.values(databases);
const groupPath = `hostile-${suffix}`;
const token = bearer({ sub: '1', name: 'hostile-admin', admin: true, groups: { [groupPath]: 'owner' } });
const CORRELATION = `hostile-${seed}-[0-9]+`;
let sequence = 0;
const nextId = () => `hostile-${seed}-${++sequence}`;
let numbers = 1000;
const nextNumber = () => ++numbers;
/** Domain events that are streamed but never stored as audit events (registry: saved_to_database false). */
const STREAMING_ONLY = new Set(['ReleaseArtifactDownloaded']);
/** Reads that are recorded (an export, a download): an accepted one must have left its domain event. */
const RECORDED_READS = /export\.csv$|\/downloads\//;

let services: RunningService[] = [];
let receiver: Awaited<ReturnType<typeof startReceiver>>;

beforeAll(async () => {
  process.stdout.write(`hostile-input: seed ${seed} (HOSTILE_SEED=${seed} replays it), profile ${SHORT ? 'short' : 'full'}\n`);
  buildServices();
  receiver = await startReceiver();
  const common = { KAFKA_TOPIC: `faults-hx-${suffix}`, LOG_LEVEL: 'warn' };
  services = await Promise.all([
    startService('release-service', { ...common, DATABASE_NAME: databases.release }),
    startService('audit-recorder', { ...common, DATABASE_NAME: databases.recorder, KAFKA_GROUP_ID: `recorder-hx-${suffix}`, AUDIT_LOG_FILE: `tmp/faults-hx-${suffix}/audit_json.log` }),
    startService('audit-streamer', { ...common, DATABASE_NAME: databases.streamer, KAFKA_GROUP_ID: `streamer-hx-${suffix}`, STREAMING_ALLOW_HTTP: 'true', STREAMING_ALLOWED_HOSTS: '127.0.0.1' }),
  ]);
});

afterAll(async () => {
  closeClient();
  await Promise.all(services.map((s) => s.stop()));
  await receiver?.close();
  await Promise.all(dbList.map((db) => dropDatabase(db)));
});

async function allEndpoints(): Promise<Endpoint[]> {
  const lists = await Promise.all(services.map((s) => discoverEndpoints(s.name, s.url)));
  return lists.flat();
}

function buildRequests(endpoints: Endpoint[], fixture: Fixture): HostileRequest[] {
  const seenService = new Set<string>();
  return endpoints.flatMap((e) => {
    // The 20 MB body: every endpoint in the full profile, the first of each service in the short one.
    const huge = !SHORT || !seenService.has(e.service);
    seenService.add(e.service);
    return variantsOf(e, { rng, fixture, token, iterations: SHORT ? 1 : 3, huge, sampleEvery: SHORT ? 4 : 1, nextId, nextNumber });
  });
}

const run = (requests: HostileRequest[]): Promise<Outcome[]> =>
  inParallel(requests, 6, async (request) => ({ request, response: await send(services.find((s) => s.name === request.service)!.url, request) }));

describe('fault 8: hostile HTTP input', () => {
  it('answers every hostile request with a 4xx problem (or accepts it cleanly) and stores nothing for a refused one', async () => {
    const started = Date.now();
    const endpoints = await allEndpoints();
    const perService = Object.fromEntries(services.map((s) => [s.name, endpoints.filter((e) => e.service === s.name).length]));
    const fixture = await createFixture({ release: services[0].url, recorder: services[1].url, streamer: services[2].url }, token, groupPath, receiver.url);
    const requests = buildRequests(endpoints, fixture);
    const mustRefuse = requests.filter((r) => r.expect === 'reject');
    // Deletes last, so the fixture they may remove serves every other request first.
    const mayAccept = requests.filter((r) => r.expect === 'any').sort((a, b) => Number(a.method === 'DELETE') - Number(b.method === 'DELETE'));
    process.stdout.write(`hostile-input: ${endpoints.length} endpoints ${JSON.stringify(perService)}, ${requests.length} requests (${mustRefuse.length} must be refused)\n`);

    // Phase 1: the requests that must all be refused, between two digests of every table.
    await quiesce(databases, async () => JSON.stringify(await snapshot(dbList)));
    const before = await snapshot(dbList);
    const refusedPhase = await run(mustRefuse);
    const sideEffects = diff(before, await snapshot(dbList));

    // Phase 2: requests that may be accepted; what they stored is found by their correlation ids.
    const openPhase = await run(mayAccept);
    const outcomes = [...refusedPhase, ...openPhase];
    const acceptedIds = new Set(outcomes.filter(accepted).map((o) => o.request.correlationId));
    const expectedAuditEvents = async () => {
      const rows = await Promise.all([databases.release, databases.recorder, databases.streamer].map((db) =>
        query<{ cid: string; type: string }>(db, `SELECT payload->>'correlation_id' AS cid, payload->>'type' AS type FROM outbox WHERE payload->>'correlation_id' ~ $1`, [`^${CORRELATION}$`])));
      return rows.flat().filter((r) => acceptedIds.has(r.cid) && !STREAMING_ONLY.has(r.type)).length;
    };
    const stored = async () => (await query<{ rows: string; ids: string }>(databases.recorder,
      `SELECT count(*) AS rows, count(DISTINCT id) AS ids FROM audit_events WHERE payload->'details'->>'correlation_id' ~ $1`, [`^${CORRELATION}$`]))[0];
    const expected = await expectedAuditEvents();
    const recorded = await waitFor('the recorder to store the audit events of the accepted requests', async () => {
      const now = await stored();
      return Number(now.ids) >= expected ? now : false;
    }, { timeoutMs: 60_000, intervalMs: 500 }).catch(() => stored());

    const writers = await correlationIdsStored(dbList, CORRELATION);
    const leaks = outcomes.filter((o) => !accepted(o) && writers.has(o.request.correlationId))
      .map((o) => `${explain(o, 'refused but stored')} in ${writers.get(o.request.correlationId)!.map((w) => w.table).join(', ')}`);
    const unrecorded = outcomes.filter((o) => accepted(o) && o.request.method === 'GET' && RECORDED_READS.test(o.request.route) && !writers.has(o.request.correlationId))
      .map((o) => explain(o, 'accepted, but its own audit event was never recorded'));
    const violations = outcomes.map((o) => [o, judge(o)] as const).filter(([, why]) => why).map(([o, why]) => explain(o, why!));
    const count = (p: (o: Outcome) => boolean) => outcomes.filter(p).length;
    const seconds = Math.round((Date.now() - started) / 1000);
    recordRow({
      scenario: '8 hostile HTTP input',
      actionsAccepted: acceptedIds.size,
      auditEventsStored: Number(recorded.ids),
      duplicatesInDatabase: Number(recorded.rows) - Number(recorded.ids),
      eventsMissing: Math.max(0, expected - Number(recorded.ids)) + unrecorded.length,
      deliveriesPerDestination: {},
      duplicatesDelivered: 0,
      messagesInDlq: 0,
      notes: `seed ${seed}; ${outcomes.length} requests to ${endpoints.length} endpoints; ${count((o) => o.response.status >= 400 && o.response.status < 500)} 4xx, ${count((o) => o.response.status >= 500)} 5xx, ${count((o) => o.response.status === 0)} unanswered; ${seconds} s`,
    });
    const report = [...violations, ...unrecorded, ...sideEffects.map((d) => `[side effect of the refused phase] ${d}`), ...leaks];
    if (report.length > 0) {
      // The services' own error lines name the root cause of a 5xx (the response hides it, as it should).
      const serverErrors = services.flatMap((s) => s.logs.join('').split('\n').filter((l) => /"level":(50|60)/.test(l)).map((l) => `${s.name}: ${l.slice(0, 800)}`));
      process.stdout.write(`hostile-input: ${report.length} violations (seed ${seed}):\n${report.slice(0, 300).join('\n')}\nservice errors:\n${serverErrors.slice(0, 20).join('\n')}\n`);
    }
    expect(report).toEqual([]);
    expect(Number(recorded.ids)).toBe(expected);
  });
});
