import { carriesNul, hostileNumbers, hostilePathValues, hostileQueries, hostileStrings } from './catalogue';
import { HostileToken, refusesToken } from './claims';
import { Endpoint, fillPath, Fixture, validParam } from './endpoints';
import { adversarialDocuments, refusedWithinLimits } from './graphql-adversarial';
import { HOSTILE_HOSTS, linksStayHome } from './host-headers';
import { HostileRequest, HostileResponse } from './http-client';
import { instantParameters, OUT_OF_RANGE_INSTANTS } from './instants';
import { refusedNaming } from './judge';
import { Prng } from './prng';
import { reservedBodies, reservedGraphqlBodies } from './reserved-keys';
import { sampleBody, violates } from './schema';

/**
 * Routes that page but whose fixture has no second page: the recorder's checkpoints are made on its own clock,
 * which this suite stops (AUDIT_CHECKPOINT_INTERVAL_MS of an hour) so that none lands between the digests of
 * the refused phase. Their Link is judged by apps/audit-recorder/src/integrity/integrity.int.spec.ts.
 */
const NO_SECOND_PAGE = new Set(['audit-recorder /api/v4/audit_events/checkpoints']);

export interface VariantOptions {
  rng: Prng;
  fixture: Fixture;
  token: string;
  /** Random iterations per category (fewer under FAULTS_PROFILE=short). */
  iterations: number;
  /** Whether this endpoint also gets the 20 MB body (costly: every endpoint in the full profile). */
  huge: boolean;
  /** Keep every n-th path/query variant (1 = all). */
  sampleEvery: number;
  /** The correlation id of the next request (what it stored is found by it). */
  nextId: () => string;
  /** A number no other valid body has used: new paths, tags, titles and header keys do not collide. */
  nextNumber: () => number;
  /** Tokens with the right signature and hostile claims (claims.ts): each on a valid request of every endpoint. */
  hostileTokens: HostileToken[];
  /** The services' PUBLIC_URL, if the scenario sets one: the only absolute origin a Link may name. */
  publicUrl?: string;
}

/** What a class adds to a request: its own headers (a token, a Host) and its condition on the answer. */
type Extra = { headers?: Record<string, string>; check?: (r: HostileResponse) => string | undefined };

const PUBLIC = (template: string) => ['/health', '/ready'].includes(template) || template.includes('graphql');
const isGraphql = (e: Endpoint) => e.template.includes('graphql');
const json = (value: unknown) => Buffer.from(JSON.stringify(value));

const nested = (depth: number, open: string, close: string, leaf: string) =>
  Buffer.from(open.repeat(depth) + leaf + close.repeat(depth));

/** The raw bodies every endpoint gets: [label, content type or none, bytes, must it be refused]. */
function bodyVariants(e: Endpoint, o: VariantOptions): Array<[string, string | undefined, Buffer, boolean]> {
  const { rng } = o;
  const random = (n: number) => rng.bytes(rng.int(8, n));
  const takesBody = e.body !== undefined || isGraphql(e);
  const variants: Array<[string, string | undefined, Buffer, boolean]> = [
    ...Array.from({ length: o.iterations }, (_, i): [string, string, Buffer, boolean] => [
      `random-bytes-json-${i}`,
      'application/json',
      random(4096),
      true,
    ]),
    ['random-text-plain', 'text/plain', random(2048), true],
    [
      'random-xml',
      'application/xml',
      Buffer.from(
        `<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;${rng.bytes(64).toString('hex')}</x>`,
      ),
      true,
    ],
    [
      'multipart',
      'multipart/form-data; boundary=hx',
      Buffer.from(`--hx\r\nContent-Disposition: form-data; name="name"\r\n\r\nx\r\n--hx--\r\n`),
      true,
    ],
    [
      'form-urlencoded',
      'application/x-www-form-urlencoded',
      Buffer.from('path=hx-form&name=Form&title=t&tag_name=vform&destination_url=https%3A%2F%2Fexample.com'),
      true,
    ],
    ['no-content-type', undefined, random(1024), true],
    ['octet-stream', 'application/octet-stream', random(1024), true],
    ['json-wrong-charset', 'application/json; charset=utf-16', Buffer.from('{}', 'utf16le'), true],
    [
      'invalid-utf8-in-json',
      'application/json',
      Buffer.concat([Buffer.from('{"name":"'), Buffer.from([0xff, 0xfe, 0xc0, 0xae]), Buffer.from('"}')]),
      true,
    ],
    ['json-nul-key', 'application/json', Buffer.from('{"\\u0000":"x"}'), true],
    ['oversized-2mb', 'application/json', json({ name: 'x'.repeat(2 * 1024 * 1024) }), true],
    ['deep-array', 'application/json', nested(100_000, '[', ']', '1'), true],
    ['deep-object', 'application/json', nested(5_000, '{"a":', '}', '1'), true],
    ['huge-array', 'application/json', json(Array.from({ length: 100_000 }, (_, i) => i)), takesBody],
    ['empty-json-object', 'application/json', Buffer.from('{}'), false],
    ['json-null', 'application/json', Buffer.from('null'), takesBody],
  ];
  if (o.huge) variants.push(['oversized-20mb', 'application/json', json({ name: 'y'.repeat(20 * 1024 * 1024) }), true]);
  return variants;
}

/** Valid body of the endpoint, with one field replaced by each hostile value of its kind. */
function fieldVariants(e: Endpoint, o: VariantOptions, n: () => number): Array<[string, Buffer, boolean]> {
  if (!e.body?.properties) return [];
  const out: Array<[string, Buffer, boolean]> = [];
  for (const [field, schema] of Object.entries(e.body.properties)) {
    const values: Array<[string, unknown]> = [
      ...hostileStrings(o.rng, o.iterations),
      ...hostileNumbers,
      ['huge-array', Array.from({ length: 50_000 }, () => 'x')],
    ];
    for (const [label, value] of values) {
      const body = { ...sampleBody(e.body, o.fixture, n()), [field]: value };
      out.push([`field:${field}:${label}`, json(body), violates(schema, value)]);
    }
  }
  out.push([
    'field:unknown-key',
    json({ ...sampleBody(e.body, o.fixture, n()), ['hx😀\u202e']: 1 }),
    e.body.additionalProperties === false,
  ]);
  return out;
}

/** Every hostile request of one endpoint, with the privileged token and (a few) without. */
export function variantsOf(e: Endpoint, o: VariantOptions): HostileRequest[] {
  const valid = Object.fromEntries(e.params.map((p) => [p, validParam(e.template, p, o.fixture)]));
  const n = o.nextNumber;
  const publicRoute = PUBLIC(e.template);
  const make = (
    label: string,
    path: string,
    body: Buffer | undefined,
    contentType: string | undefined,
    expect: 'reject' | 'any',
    auth = true,
    extra: Extra = {},
  ): HostileRequest => ({
    service: e.service,
    method: e.method,
    route: e.template,
    path,
    label,
    headers: {
      ...(auth ? { Authorization: o.token } : {}),
      ...(contentType ? { 'Content-Type': contentType } : {}),
      ...extra.headers,
    },
    body,
    expect: publicRoute && !isGraphql(e) ? 'any' : expect,
    correlationId: o.nextId(),
    ...(extra.check ? { check: extra.check } : {}),
  });
  const validPath = fillPath(e.template, valid);
  const validBody = (): Buffer | undefined =>
    isGraphql(e) ? json({ query: '{ __typename }' }) : e.body ? json(sampleBody(e.body, o.fixture, n())) : undefined;
  const requests: HostileRequest[] = [];
  for (const [label, type, body, refuse] of bodyVariants(e, o))
    requests.push(make(`body:${label}`, validPath, body, type, refuse ? 'reject' : 'any'));
  for (const [label, body, refuse] of fieldVariants(e, o, n))
    requests.push(make(label, validPath, body, 'application/json', refuse ? 'reject' : 'any'));
  const sampled = <T>(items: T[]) => items.filter((_, i) => i % o.sampleEvery === 0);
  for (const param of e.params) {
    for (const [label, value] of sampled(hostilePathValues(o.rng, o.iterations))) {
      requests.push(
        make(
          `path:${param}:${label}`,
          fillPath(e.template, { ...valid, [param]: value }),
          validBody(),
          validBody() ? 'application/json' : undefined,
          'reject',
        ),
      );
    }
  }
  for (const name of [...e.query.map((q) => q.name), 'hx_unknown']) {
    for (const [label, query] of sampled(hostileQueries(name, o.rng, o.iterations))) {
      const refuse = carriesNul(query) || label === 'header-overflow';
      requests.push(
        make(
          `query:${name}:${label}`,
          `${validPath}?${query}`,
          validBody(),
          validBody() ? 'application/json' : undefined,
          refuse ? 'reject' : 'any',
        ),
      );
    }
  }
  // Without a token: the same shapes must all stop at the door (public routes excepted).
  const [hostileParam] = e.params;
  const anonymous: HostileRequest[] = [
    make('anonymous:valid', validPath, validBody(), validBody() ? 'application/json' : undefined, 'reject', false),
    make('anonymous:random-bytes', validPath, o.rng.bytes(512), 'application/json', 'reject', false),
    make('anonymous:text-plain', validPath, o.rng.bytes(512), 'text/plain', 'reject', false),
    make(
      'anonymous:oversized-2mb',
      validPath,
      json({ name: 'x'.repeat(2 * 1024 * 1024) }),
      'application/json',
      'reject',
      false,
    ),
    ...(hostileParam
      ? [
          make(
            `anonymous:path:${hostileParam}`,
            fillPath(e.template, { ...valid, [hostileParam]: "'%3B%20DROP%20TABLE%20x%3B--" }),
            undefined,
            undefined,
            'reject',
            false,
          ),
        ]
      : []),
  ];
  if (isGraphql(e) && e.method === 'POST') {
    for (const [label, body] of graphqlVariants(o))
      requests.push(make(`graphql:${label}`, validPath, body, 'application/json', 'any'));
    // Run apart, beside a /health probe (the scenario picks them out by this label).
    for (const doc of adversarialDocuments(o.fixture.groupPath, o.fixture.receiverUrl)) {
      requests.push(
        make(
          `graphql-adversarial:${doc.label}`,
          validPath,
          json({ query: doc.query }),
          'application/json',
          'reject',
          true,
          { check: refusedWithinLimits(doc) },
        ),
      );
    }
  }
  return [...requests, ...anonymous, ...classVariants(e, o, make, validPath, validBody)];
}

type Make = (
  label: string,
  path: string,
  body: Buffer | undefined,
  contentType: string | undefined,
  expect: 'reject' | 'any',
  auth?: boolean,
  extra?: Extra,
) => HostileRequest;

/**
 * The classes that each guard a fixed defect (faults/README.md, scenario 8): hostile claims in a
 * well-signed token, out-of-range instants, hostile Host headers, reserved keys in bodies.
 */
function classVariants(
  e: Endpoint,
  o: VariantOptions,
  make: Make,
  validPath: string,
  validBody: () => Buffer | undefined,
): HostileRequest[] {
  const out: HostileRequest[] = [];
  const type = (body: Buffer | undefined) => (body ? 'application/json' : undefined);
  // Claims: a valid request with each token; only the health probes need none, and GET /api/graphql answers 405 to all.
  const authenticated = !['/health', '/ready'].includes(e.template) && !(isGraphql(e) && e.method === 'GET');
  if (authenticated) {
    for (const t of o.hostileTokens) {
      const body = validBody();
      out.push(
        make(t.label, validPath, body, type(body), 'reject', false, {
          headers: { Authorization: t.bearer },
          check: refusesToken(t, isGraphql(e)),
        }),
      );
    }
  }
  const instants = instantParameters(e);
  for (const [label, value] of OUT_OF_RANGE_INSTANTS) {
    for (const name of instants.query) {
      const body = validBody();
      out.push(
        make(
          `instant:${name}:${label}`,
          `${validPath}?${name}=${encodeURIComponent(value)}`,
          body,
          type(body),
          'reject',
          true,
          { check: refusedNaming(name) },
        ),
      );
    }
    for (const name of instants.body) {
      out.push(
        make(
          `instant:${name}:${label}`,
          validPath,
          json({ ...sampleBody(e.body!, o.fixture, o.nextNumber()), [name]: value }),
          'application/json',
          'reject',
          true,
          { check: refusedNaming(name) },
        ),
      );
    }
  }
  // Host: a valid request (a page of one where the route pages, so a next link is due), any answer but a 5xx.
  const pages =
    e.method === 'GET' &&
    e.query.some((q) => q.name === 'per_page') &&
    !NO_SECOND_PAGE.has(`${e.service} ${e.template}`);
  for (const [label, host] of HOSTILE_HOSTS) {
    const body = validBody();
    out.push(
      make(`host:${label}`, pages ? `${validPath}?per_page=1` : validPath, body, type(body), 'any', true, {
        headers: { Host: host },
        check: linksStayHome(o.publicUrl, pages),
      }),
    );
  }
  // Reserved keys: a strict schema names the key in its 400; one that allows extra keys may accept them.
  if (e.body) {
    const strict = e.body.additionalProperties === false;
    for (const [label, body, key] of reservedBodies(sampleBody(e.body, o.fixture, o.nextNumber()))) {
      out.push(
        make(
          label,
          validPath,
          body,
          'application/json',
          strict ? 'reject' : 'any',
          true,
          strict ? { check: refusedNaming(key) } : {},
        ),
      );
    }
  }
  if (isGraphql(e) && e.method === 'POST') {
    for (const [label, body] of reservedGraphqlBodies(o.fixture.groupPath))
      out.push(make(`graphql:${label}`, validPath, body, 'application/json', 'any'));
  }
  return out;
}

const CREATE =
  'mutation($g: ID!, $u: String!, $n: String) { externalAuditEventDestinationCreate(input: {groupPath: $g, destinationUrl: $u, name: $n}) { errors externalAuditEventDestination { id } } }';
const HEADER =
  'mutation($d: AuditEventsExternalAuditEventDestinationID!, $k: String!, $v: String!) { auditEventsStreamingHeadersCreate(input: {destinationId: $d, key: $k, value: $v}) { errors header { id } } }';
const GROUP =
  'query($g: ID!) { group(fullPath: $g) { externalAuditEventDestinations { nodes { id name headers { nodes { key } } } } } }';

/** GraphQL operations of the streaming API with each hostile string in each argument (answers are 200 with `errors`). */
function graphqlVariants(o: VariantOptions): Array<[string, Buffer]> {
  const f = o.fixture;
  const gid = `gid://gitlab/AuditEvents::ExternalAuditEventDestination/${f.destinationId}`;
  const out: Array<[string, Buffer]> = [];
  for (const [label, value] of hostileStrings(o.rng, o.iterations)) {
    out.push([
      `create-name:${label}`,
      json({ query: CREATE, variables: { g: f.groupPath, u: `${f.receiverUrl}/gql`, n: value } }),
    ]);
    out.push([`create-url:${label}`, json({ query: CREATE, variables: { g: f.groupPath, u: value } })]);
    out.push([`create-group:${label}`, json({ query: CREATE, variables: { g: value, u: `${f.receiverUrl}/gql` } })]);
    out.push([`header-key:${label}`, json({ query: HEADER, variables: { d: gid, k: value, v: 'x' } })]);
    out.push([`header-value:${label}`, json({ query: HEADER, variables: { d: gid, k: 'X-Hx', v: value } })]);
    out.push([`header-destination:${label}`, json({ query: HEADER, variables: { d: value, k: 'X-Hx', v: 'x' } })]);
    out.push([`group:${label}`, json({ query: GROUP, variables: { g: value } })]);
  }
  out.push([
    'deep-query',
    json({
      query: `{ ${'group(fullPath: "x") { externalAuditEventDestinations { nodes { '.repeat(30)}id${' } } }'.repeat(30)} }`,
    }),
  ]);
  out.push(['many-tokens', json({ query: `{ ${'__typename '.repeat(5000)} }` })]);
  out.push(['variables-not-object', json({ query: GROUP, variables: 'x' })]);
  return out;
}
