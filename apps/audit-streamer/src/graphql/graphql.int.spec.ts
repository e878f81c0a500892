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
import { RESOURCE_NOT_AVAILABLE } from './graphql-errors';
import { parseGlobalId, toGlobalId } from './global-id';
import { documentedOperations } from './documented-operations';

/*
 * The GraphQL API against the real PostgreSQL and Kafka: every documented operation as the
 * documentation writes it (only URL, group path and ids substituted), its effect seen through GraphQL
 * and REST, the audit events it publishes, the refusals that change nothing, and the HTTP edge.
 */
jest.setTimeout(120_000);

const owner = bearer({ sub: '7', name: 'olivia', groups: { acme: 'owner' } });
const developer = bearer({ sub: '8', name: 'dev', groups: { acme: 'developer' } });
const otherOwner = bearer({ sub: '9', name: 'oscar', groups: { other: 'owner' } });
const REST = '/api/v4/groups/acme/audit_events/streaming/destinations';

let streamer: StreamerUnderTest;
let http: ReturnType<typeof request>;

beforeAll(async () => {
  streamer = await startStreamer('graphql', { STREAMING_MAX_DESTINATIONS_PER_GROUP: '20' });
  http = request(streamer.app.getHttpServer());
  await insertNamespaces(streamer, [
    { kind: 'Group', id: 100, full_path: 'acme', parent_id: null },
    { kind: 'Group', id: 101, full_path: 'acme/sub', parent_id: 100 },
    { kind: 'Group', id: 200, full_path: 'other', parent_id: null },
  ]);
});
afterAll(async () => {
  await streamer?.close();
});

const gql = (query: string, token = owner, variables?: Record<string, unknown>) =>
  http
    .post('/api/graphql')
    .set('Authorization', token)
    .set('X-Correlation-Id', 'corr-graphql')
    .send({ query, variables });
/** A 200 with its `data`, and no top-level errors. */
const data = async (query: string, token = owner, variables?: Record<string, unknown>) => {
  const res = await gql(query, token, variables).expect(200);
  expect(res.body.errors).toBeUndefined();
  return res.body.data;
};
const restList = async () =>
  (await http.get(REST).set('Authorization', owner).expect(200)).body as Array<{ id: number; headers: unknown[] }>;
const restDestination = async (id: number) => (await restList()).find((d) => d.id === id);

describe('GraphQL API, documented operations (real PostgreSQL and Kafka)', () => {
  it('serves every documented operation as documented; GraphQL and REST see the same store', async () => {
    const created = (await data(documentedOperations.createDestination(ALLOWED_URL, 'acme')))
      .externalAuditEventDestinationCreate;
    expect(created).toEqual({
      errors: [],
      externalAuditEventDestination: {
        destinationUrl: ALLOWED_URL,
        verificationToken: expect.stringMatching(/^[A-Za-z0-9]{24}$/),
        group: { name: 'acme' },
      },
    });
    const token = created.externalAuditEventDestination.verificationToken;

    const listed = (await data(documentedOperations.listDestinations('acme'))).group;
    expect(listed.id).toBe(toGlobalId('group', 100));
    const node = listed.externalAuditEventDestinations.nodes.find(
      (n: { verificationToken: string }) => n.verificationToken === token,
    );
    expect(node).toEqual({
      destinationUrl: ALLOWED_URL,
      verificationToken: token,
      id: expect.stringMatching(/^gid:\/\/gitlab\/AuditEvents::ExternalAuditEventDestination\/\d+$/),
    });
    const id = parseGlobalId(node.id, 'destination') as number;
    expect(await restDestination(id)).toMatchObject({
      destination_url: ALLOWED_URL,
      verification_token: token,
      headers: [],
    });

    expect((await data(documentedOperations.createHeader(node.id))).auditEventsStreamingHeadersCreate).toEqual({
      errors: [],
    });
    const withHeader = (
      await data(documentedOperations.listHeaders('acme'))
    ).group.externalAuditEventDestinations.nodes.find((n: { id: string }) => n.id === node.id);
    expect(withHeader.headers.nodes).toEqual([
      { key: 'foo', value: 'bar', id: expect.stringMatching(/^gid:\/\/gitlab\/AuditEvents::Streaming::Header\/\d+$/) },
    ]);
    const headerGid = withHeader.headers.nodes[0].id as string;
    const headerId = parseGlobalId(headerGid, 'header');
    expect((await restDestination(id))?.headers).toEqual([{ id: headerId, key: 'foo', value: 'bar' }]);

    expect((await data(documentedOperations.updateHeader(headerGid))).auditEventsStreamingHeadersUpdate).toEqual({
      errors: [],
    });
    expect((await restDestination(id))?.headers).toEqual([{ id: headerId, key: 'new-foo', value: 'new-bar' }]);

    expect((await data(documentedOperations.destroyHeader(headerGid))).auditEventsStreamingHeadersDestroy).toEqual({
      errors: [],
    });
    expect((await restDestination(id))?.headers).toEqual([]);

    expect((await data(documentedOperations.destroyDestination(node.id))).externalAuditEventDestinationDestroy).toEqual(
      {
        errors: [],
      },
    );
    expect(await restDestination(id)).toBeUndefined();
    const after = (await data(documentedOperations.listDestinations('acme'))).group.externalAuditEventDestinations
      .nodes;
    expect(after.some((n: { id: string }) => n.id === node.id)).toBe(false);

    // Each change is an audit event like a REST one: the caller, their IP, the request's correlation id.
    const mine = (e: DomainEvent) => destinationIdOf(e) === id;
    for (const type of [
      'StreamingDestinationCreated',
      'StreamingHeaderCreated',
      'StreamingHeaderUpdated',
      'StreamingHeaderDeleted',
      'StreamingDestinationDeleted',
    ]) {
      expect(await streamer.waitForEvent(type, mine)).toMatchObject({
        actor: { id: 7, name: 'olivia', ip_address: '127.0.0.1' },
        scope: { entity_type: 'Group', entity_id: 100, entity_path: 'acme' },
        correlation_id: 'corr-graphql',
      });
    }
    expect(streamer.published().some((p) => p.raw.includes('new-bar') || p.raw.includes(token))).toBe(false);
  });

  it('publishes the same domain events for a change through GraphQL as through REST', async () => {
    const viaRest = (
      await http
        .post(REST)
        .set('Authorization', owner)
        .set('X-Correlation-Id', 'corr-graphql')
        .send({ destination_url: ALLOWED_URL, name: 'ViaRest' })
        .expect(201)
    ).body;
    await http
      .post(`${REST}/${viaRest.id}/headers`)
      .set('Authorization', owner)
      .set('X-Correlation-Id', 'corr-graphql')
      .send({ key: 'X-K', value: 'v' })
      .expect(201);
    const mutation = `mutation { externalAuditEventDestinationCreate(input: { destinationUrl: "${ALLOWED_URL}", groupPath: "acme", name: "ViaGraphql" }) {
      errors externalAuditEventDestination { id name } signingSecret } }`;
    const created = (await data(mutation)).externalAuditEventDestinationCreate;
    expect(created).toMatchObject({
      errors: [],
      externalAuditEventDestination: { name: 'ViaGraphql' },
      signingSecret: expect.stringMatching(/^whsec_/),
    });
    const gid = created.externalAuditEventDestination.id as string;
    expect(
      (await data(documentedOperations.createHeader(gid, 'X-K', 'v'))).auditEventsStreamingHeadersCreate.errors,
    ).toEqual([]);
    const viaGraphql = parseGlobalId(gid, 'destination');

    const shape = (e: DomainEvent) => ({
      type: e.type,
      schema_version: e.schema_version,
      aggregate_type: e.aggregate.type,
      actor: e.actor,
      scope: e.scope,
      correlation_id: e.correlation_id,
      data_keys: Object.keys(e.data as object).sort(),
    });
    for (const type of ['StreamingDestinationCreated', 'StreamingHeaderCreated']) {
      const rest = await streamer.waitForEvent(type, (e) => destinationIdOf(e) === viaRest.id);
      const graphql = await streamer.waitForEvent(type, (e) => destinationIdOf(e) === viaGraphql);
      expect(shape(graphql)).toEqual(shape(rest));
    }
  });

  it('refuses the 21st header, a duplicate or reserved key, unknown ids, a subgroup and a refused URL in `errors`, changing nothing', async () => {
    const full = (
      await http.post(REST).set('Authorization', owner).send({ destination_url: ALLOWED_URL, name: 'Full' }).expect(201)
    ).body;
    for (let i = 1; i <= 20; i++)
      await http
        .post(`${REST}/${full.id}/headers`)
        .set('Authorization', owner)
        .send({ key: `X-H${i}`, value: String(i) })
        .expect(201);
    const small = (
      await http
        .post(REST)
        .set('Authorization', owner)
        .send({ destination_url: ALLOWED_URL, name: 'Small' })
        .expect(201)
    ).body;
    const header = (
      await http
        .post(`${REST}/${small.id}/headers`)
        .set('Authorization', owner)
        .send({ key: 'X-Team', value: 'a' })
        .expect(201)
    ).body;
    const fullGid = toGlobalId('destination', full.id);
    const smallGid = toGlobalId('destination', small.id);
    const listingBefore = await restList();
    const outboxBefore = await outboxCount(streamer);

    const refused: Array<[string, string, RegExp]> = [
      [
        documentedOperations.createHeader(fullGid, 'X-H21', '21'),
        'auditEventsStreamingHeadersCreate',
        /^the limit of 20 custom headers per destination is reached$/,
      ],
      [
        documentedOperations.createHeader(smallGid, 'x-team', 'b'),
        'auditEventsStreamingHeadersCreate',
        /^key is already used by another header/,
      ],
      [
        documentedOperations.createHeader(smallGid, 'X-Gitlab-Event-Streaming-Token', 'b'),
        'auditEventsStreamingHeadersCreate',
        /^key is set by the streamer/,
      ],
      [
        documentedOperations.createHeader(smallGid, 'X-Ok', 'a\\nb'),
        'auditEventsStreamingHeadersCreate',
        /^value must not contain line breaks/,
      ],
      [
        documentedOperations.updateHeader(toGlobalId('header', header.id), 'webhook-id', 'b'),
        'auditEventsStreamingHeadersUpdate',
        /^key is set by the streamer/,
      ],
      [
        documentedOperations.createHeader(toGlobalId('destination', 999_999)),
        'auditEventsStreamingHeadersCreate',
        /^Streaming destination not found$/,
      ],
      [
        documentedOperations.destroyDestination(toGlobalId('destination', 999_999)),
        'externalAuditEventDestinationDestroy',
        /^Streaming destination not found$/,
      ],
      [
        documentedOperations.updateHeader(toGlobalId('header', 999_999)),
        'auditEventsStreamingHeadersUpdate',
        /^Streaming header not found$/,
      ],
      [
        documentedOperations.destroyHeader(toGlobalId('header', 999_999)),
        'auditEventsStreamingHeadersDestroy',
        /^Streaming header not found$/,
      ],
      [
        documentedOperations.destroyDestination('gid://gitlab/AuditEvents::Streaming::Header/1'),
        'externalAuditEventDestinationDestroy',
        /is not a valid global id of a streaming destination$/,
      ],
      [
        documentedOperations.destroyHeader('24255'),
        'auditEventsStreamingHeadersDestroy',
        /is not a valid global id of a streaming header$/,
      ],
      [
        documentedOperations.createDestination(ALLOWED_URL, 'acme/sub'),
        'externalAuditEventDestinationCreate',
        /^destinations can only be added to a top-level group; use acme$/,
      ],
      [
        documentedOperations.createDestination('https://127.0.0.1/ingest', 'acme'),
        'externalAuditEventDestinationCreate',
        /^destinationUrl is blocked/,
      ],
      [
        documentedOperations.createDestination('http://127.0.0.2/ingest', 'acme'),
        'externalAuditEventDestinationCreate',
        /^destinationUrl /,
      ],
      // A destination of a group the caller does not own looks exactly like an unknown one.
      [
        documentedOperations.createHeader(smallGid, 'X-Other', 'b'),
        'auditEventsStreamingHeadersCreate',
        /^Streaming destination not found$/,
      ],
    ];
    for (const [query, field, reason] of refused) {
      const token = query.includes('X-Other') ? otherOwner : owner;
      const payload = (await data(query, token))[field];
      expect({ query, errors: payload.errors }).toEqual({ query, errors: [expect.stringMatching(reason)] });
    }
    expect(await restList()).toEqual(listingBefore);
    expect(await outboxCount(streamer)).toBe(outboxBefore);
  });

  it("answers a non-owner with GitLab's top-level authorization error, and changes nothing", async () => {
    const listingBefore = await restList();
    for (const [token, path] of [
      [developer, 'acme'],
      [otherOwner, 'acme'],
      [owner, 'no-such-group'],
    ]) {
      const res = await gql(documentedOperations.createDestination(ALLOWED_URL, path), token).expect(200);
      expect(res.body.data).toEqual({ externalAuditEventDestinationCreate: null });
      expect(res.body.errors).toEqual([
        expect.objectContaining({
          message: RESOURCE_NOT_AVAILABLE,
          path: ['externalAuditEventDestinationCreate'],
          extensions: { code: 'RESOURCE_NOT_AVAILABLE' },
        }),
      ]);
    }
    const listed = await gql(documentedOperations.listDestinations('acme'), developer).expect(200);
    expect(listed.body.data).toEqual({ group: { id: toGlobalId('group', 100), externalAuditEventDestinations: null } });
    expect(listed.body.errors[0]).toMatchObject({
      message: RESOURCE_NOT_AVAILABLE,
      path: ['group', 'externalAuditEventDestinations'],
    });
    expect((await data(documentedOperations.listDestinations('acme'), otherOwner)).group).toBeNull();
    expect(await restList()).toEqual(listingBefore);
  });

  it("takes GitLab's id scalar types in variables, and introspection", async () => {
    const created = (await data(documentedOperations.createDestination(ALLOWED_URL, 'acme')))
      .externalAuditEventDestinationCreate;
    expect(created.errors).toEqual([]);
    const [node] = (
      await data(documentedOperations.listDestinations('acme'))
    ).group.externalAuditEventDestinations.nodes.slice(-1);
    const destroy =
      'mutation($id: AuditEventsExternalAuditEventDestinationID!) { externalAuditEventDestinationDestroy(input: { id: $id, clientMutationId: "m1" }) { clientMutationId errors } }';
    expect((await data(destroy, owner, { id: node.id })).externalAuditEventDestinationDestroy).toEqual({
      clientMutationId: 'm1',
      errors: [],
    });
    const types = (await data('{ __schema { mutationType { fields { name } } } }')).__schema.mutationType.fields.map(
      (f: { name: string }) => f.name,
    );
    expect(types).toEqual(
      expect.arrayContaining(['externalAuditEventDestinationCreate', 'auditEventsStreamingHeadersUpdate']),
    );
  });

  it('refuses at the HTTP edge: no or a bad token, GET, a non-JSON body, a large body, a too deep query', async () => {
    const query = documentedOperations.listDestinations('acme');
    const missing = await http.post('/api/graphql').send({ query }).expect(401);
    expect(missing.headers['content-type']).toMatch(/^application\/json/);
    expect(missing.body).toEqual({
      errors: [{ message: 'Missing bearer token', extensions: { code: 'UNAUTHENTICATED' } }],
    });
    const bad = await http
      .post('/api/graphql')
      .set('Authorization', bearer({}, 'x'.repeat(40)))
      .send({ query })
      .expect(401);
    expect(bad.body.errors[0]).toMatchObject({
      message: expect.stringMatching(/^Invalid token/),
      extensions: { code: 'UNAUTHENTICATED' },
    });

    const get = await http.get('/api/graphql').query({ query }).set('Authorization', owner).expect(405);
    expect(get.headers['allow']).toBe('POST');
    const form = await http.post('/api/graphql').set('Authorization', owner).type('form').send({ query }).expect(415);
    expect(form.body.errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const text = await http
      .post('/api/graphql')
      .set('Authorization', owner)
      .set('Content-Type', 'text/plain')
      .send(JSON.stringify({ query }))
      .expect(415);
    expect(text.body.errors[0].extensions.code).toBe('UNSUPPORTED_MEDIA_TYPE');
    const large = await http
      .post('/api/graphql')
      .set('Authorization', owner)
      .send({ query: `${query}#${'x'.repeat(70_000)}` })
      .expect(413);
    expect(large.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
    await http.post('/api/graphql').set('Authorization', owner).send({ variables: {} }).expect(400);

    let deep = 'id';
    for (let i = 0; i < 3; i++) deep = `externalAuditEventDestinations { nodes { group { ${deep} } } }`;
    const tooDeep = await gql(`{ group(fullPath: "acme") { ${deep} } }`).expect(200);
    expect(tooDeep.body.data).toBeUndefined();
    expect(tooDeep.body.errors.map((e: { extensions: { code: string } }) => e.extensions.code)).toContain(
      'QUERY_TOO_DEEP',
    );
    const syntax = await gql('mutation {').expect(200);
    expect(syntax.body.errors[0].message).toMatch(/^Syntax Error/);
  });

  it("counts GraphQL requests against the same per-user rate limit as REST, and answers a 429 in GraphQL's shape", async () => {
    const limited = await startStreamer('graphql_limit', { RATE_LIMIT_PER_MINUTE: '3' });
    try {
      const client = request(limited.app.getHttpServer());
      const ask = (token: string) =>
        client.post('/api/graphql').set('Authorization', token).send({ query: '{ __typename }' });
      const user = bearer({ sub: '61', name: 'busy' });
      const statuses = [];
      for (let i = 0; i < 3; i++) {
        const res = await ask(user).expect(200);
        statuses.push([res.headers['ratelimit-limit'], res.headers['ratelimit-remaining']]);
      }
      expect(statuses).toEqual([
        ['3', '2'],
        ['3', '1'],
        ['3', '0'],
      ]);
      // REST shares the budget: the fourth request of the minute, whichever API, is refused.
      const rest = await client
        .get('/api/v4/groups/acme/audit_events/streaming/destinations')
        .set('Authorization', user)
        .expect(429);
      expect(rest.headers['content-type']).toMatch(/^application\/problem\+json/);
      const refused = await ask(user).expect(429);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.body.errors[0]).toMatchObject({
        message: expect.stringMatching(/Rate limit of 3 requests per minute/),
        extensions: { code: 'RATE_LIMITED' },
      });
      // Another user has a budget of their own.
      await ask(bearer({ sub: '62', name: 'calm' })).expect(200);
    } finally {
      await limited.close();
    }
  });
});
