import { createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { waitFor } from '@audit/testing';
import { claimsText, rawBearer } from './claims';
import { HostileRequest, HostileResponse } from './http-client';
import { Outcome, refusedNaming } from './judge';

/*
 * Names JavaScript objects already have. As keys of plain objects they go wrong quietly: a role on a
 * group whose path is `__proto__` was dropped from the token's roles (its owner lost it), a custom
 * header named `__proto__` was stored and listed but never sent, and a body merged into an object
 * could pollute Object.prototype (then a token without `admin` would read `admin: true` through the
 * prototype). Here they go in (a) as body keys, (b) as custom header keys, (c) as group paths.
 */
export const RESERVED_KEYS = ['__proto__', 'constructor', 'prototype', 'hasOwnProperty', 'toString'];

/** `body` as JSON text with `key` first, written as text: an object literal would set the prototype instead. */
export const withMember = (body: Record<string, unknown>, key: string, valueJson: string): Buffer => {
  const rest = JSON.stringify(body).slice(1);
  return Buffer.from(`{${JSON.stringify(key)}:${valueJson}${rest === '}' ? '' : ','}${rest}`);
};

/** (a) A valid body with each reserved key added, and the two pollution bodies: [label, body, the key a refusal names]. */
export const reservedBodies = (valid: Record<string, unknown>): Array<[string, Buffer, string]> => [
  ...RESERVED_KEYS.map((key): [string, Buffer, string] => [`reserved-key:${key}`, withMember(valid, key, '"x"'), key]),
  ['pollution:__proto__.admin', withMember(valid, '__proto__', '{"admin":true}'), '__proto__'],
  [
    'pollution:constructor.prototype.admin',
    withMember(valid, 'constructor', '{"prototype":{"admin":true}}'),
    'constructor',
  ],
];

/** The GraphQL body takes no schema of its own: extra keys (and pollution in variables) may be accepted, never a 5xx. */
export const reservedGraphqlBodies = (groupPath: string): Array<[string, Buffer]> => [
  ['reserved-key:__proto__', Buffer.from('{"__proto__":{"admin":true},"query":"{ __typename }"}')],
  ['reserved-key:constructor', Buffer.from('{"constructor":{"prototype":{"admin":true}},"query":"{ __typename }"}')],
  [
    'pollution:variables',
    Buffer.from(
      `{"query":"query($g: ID!) { group(fullPath: $g) { id } }","variables":{"__proto__":{"admin":true},"g":${JSON.stringify(groupPath)}}}`,
    ),
  ],
];

type Make = (fields: Omit<HostileRequest, 'correlationId'>) => HostileRequest;
const status = (expected: number[]) => (r: HostileResponse) =>
  expected.includes(r.status) ? undefined : `expected ${expected.join(' or ')}, got ${r.status}`;
const json = (value: unknown) => Buffer.from(JSON.stringify(value));
const idOf = (r: HostileResponse): string | undefined => {
  try {
    return String((JSON.parse(r.body) as { id: unknown }).id);
  } catch {
    return undefined;
  }
};

/**
 * After the pollution bodies: tokens without admin (none, and an own `__proto__` or
 * `constructor.prototype` claim holding admin) must still get 403 on admin-only routes. The plain
 * token has no `admin` claim at all, so a polluted Object.prototype.admin would be read for it.
 */
export function adminOnlyChecks(
  secret: string,
  make: Make,
  nextNumber: () => number,
  nowS = Math.floor(Date.now() / 1000),
): HostileRequest[] {
  const claims = { sub: '2', name: 'not-an-admin', iat: nowS, exp: nowS + 3600 };
  const tokens: Array<[string, string]> = [
    ['no-admin-claim', rawBearer(claimsText(claims), secret)],
    ['own-__proto__-admin-claim', rawBearer(claimsText(claims, '"__proto__":{"admin":true}'), secret)],
    [
      'own-constructor.prototype-admin-claim',
      rawBearer(claimsText(claims, '"constructor":{"prototype":{"admin":true}}'), secret),
    ],
  ];
  const forbidden = (r: HostileResponse) =>
    status([403])(r) ??
    (r.contentType.startsWith('application/problem+json') ? undefined : 'expected a problem+json 403');
  return tokens.flatMap(([label, bearer]) => [
    make({
      service: 'audit-recorder',
      method: 'GET',
      route: '/api/v4/audit_events',
      path: '/api/v4/audit_events',
      label: `not-admin:${label}`,
      headers: { Authorization: bearer },
      expect: 'reject',
      check: forbidden,
    }),
    make({
      service: 'audit-streamer',
      method: 'GET',
      route: '/api/v4/admin/audit_events/streaming/destinations',
      path: '/api/v4/admin/audit_events/streaming/destinations',
      label: `not-admin:${label}`,
      headers: { Authorization: bearer },
      expect: 'reject',
      check: forbidden,
    }),
    make({
      service: 'release-service',
      method: 'POST',
      route: '/api/v4/groups',
      path: '/api/v4/groups',
      label: `not-admin:${label}`,
      headers: { Authorization: bearer, 'Content-Type': 'application/json' },
      body: json({ path: `not-admin-${nextNumber()}`, name: 'Top level' }),
      expect: 'reject',
      check: forbidden,
    }),
  ]);
}

export interface RawReceiver {
  url: string;
  requests: Array<{ url: string; headers: Array<[string, string]> }>;
  close: () => Promise<void>;
}

/**
 * A receiver that keeps each request's raw header pairs: Node's `req.headers` drops a `__proto__`
 * header. It must outlive the destinations pointing at it (else their deliveries retry and the
 * services never settle), so the scenario closes it with the services.
 */
export async function startRawReceiver(): Promise<RawReceiver> {
  const requests: Array<{ url: string; headers: Array<[string, string]> }> = [];
  const server = createServer((req, res) => {
    const pairs: Array<[string, string]> = [];
    for (let i = 0; i < req.rawHeaders.length; i += 2) pairs.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
    requests.push({ url: req.url ?? '', headers: pairs });
    req.resume();
    req.on('end', () => res.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const listedHeaders = (r: HostileResponse): Array<{ key: string; value: string }> => {
  try {
    return (JSON.parse(r.body) as { headers?: Array<{ key: string; value: string }> }).headers ?? [];
  } catch {
    return [];
  }
};

export interface Sent {
  (request: HostileRequest): Promise<Outcome>;
}

/**
 * (b) A destination per level (group, instance) with a custom header of every reserved key: each
 * accepted (201), then listed exactly (GET the destination), then sent as written with a delivery
 * (`trigger` makes an event after the last header exists). Returns the outcomes and what went wrong
 * beyond them (a delivery without the headers).
 */
export async function reservedHeaderKeys(ctx: {
  groupId: string;
  token: string;
  receiver: RawReceiver;
  make: Make;
  send: Sent;
  trigger: () => Promise<unknown>;
}): Promise<{ outcomes: Outcome[]; findings: string[] }> {
  const outcomes: Outcome[] = [];
  const findings: string[] = [];
  const auth = { Authorization: ctx.token, 'Content-Type': 'application/json' };
  const levels: Array<[string, string]> = [
    ['group', `/api/v4/groups/${ctx.groupId}/audit_events/streaming/destinations`],
    ['instance', '/api/v4/admin/audit_events/streaming/destinations'],
  ];
  const value = (key: string) => `hx-${key}`;
  const created: string[] = [];
  for (const [level, base] of levels) {
    const route = (suffix: string) =>
      `${base.replace(/\/groups\/\d+\//, '/groups/{id}/')}${suffix.replace(/\/\d+/, '/{destination_id}')}`;
    const call = async (
      label: string,
      method: string,
      suffix: string,
      body: unknown,
      check: (r: HostileResponse) => string | undefined,
    ) => {
      const outcome = await ctx.send(
        ctx.make({
          service: 'audit-streamer',
          method,
          route: route(suffix),
          path: `${base}${suffix}`,
          label: `reserved-header:${level}:${label}`,
          headers: auth,
          body: body === undefined ? undefined : json(body),
          expect: 'any',
          check,
        }),
      );
      outcomes.push(outcome);
      return outcome.response;
    };
    const destination = idOf(
      await call(
        'create-destination',
        'POST',
        '',
        { destination_url: `${ctx.receiver.url}/${level}`, name: `reserved-keys-${level}` },
        status([201]),
      ),
    );
    if (destination === undefined) continue;
    for (const key of RESERVED_KEYS)
      await call(key, 'POST', `/${destination}/headers`, { key, value: value(key) }, status([201]));
    await call('listed', 'GET', `/${destination}`, undefined, (r) => {
      const listed = listedHeaders(r);
      const missing = RESERVED_KEYS.filter(
        (key) => listed.filter((h) => h.key === key && h.value === value(key)).length !== 1,
      );
      return missing.length === 0
        ? undefined
        : `headers not listed exactly once as written: ${missing.join(', ')} (listed: ${JSON.stringify(listed).slice(0, 300)})`;
    });
    created.push(level);
  }
  await ctx.trigger();
  const carriesAll = (headers: Array<[string, string]>) =>
    RESERVED_KEYS.every((key) => headers.some(([name, v]) => name === key && v === value(key)));
  for (const level of created) {
    const received = () => ctx.receiver.requests.filter((r) => r.url === `/${level}`);
    await waitFor(
      `a delivery to the ${level} destination carrying every reserved header`,
      () => received().some((r) => carriesAll(r.headers)),
      { timeoutMs: 30_000, intervalMs: 200 },
    ).catch(() =>
      findings.push(
        `[reserved header keys not sent as written] ${level} destination: ${received().length} deliveries, none with every one of ${RESERVED_KEYS.join(', ')}; last: ${JSON.stringify(received().at(-1)?.headers ?? []).slice(0, 400)}`,
      ),
    );
  }
  return { outcomes, findings };
}

/**
 * (c) Each reserved key as a top-level group's path (an admin creates it: 201, or a 400 naming the
 * path), then a project in it by its owner: a token that is not admin and whose groups claim is
 * `{"<key>": "owner"}`, written as JSON text. Must be a 201 (the role used to be dropped).
 */
export async function reservedGroupPaths(
  ctx: { adminToken: string; secret: string; make: Make; send: Sent },
  nowS = Math.floor(Date.now() / 1000),
): Promise<Outcome[]> {
  const outcomes: Outcome[] = [];
  for (const key of RESERVED_KEYS) {
    const headers = (bearer: string) => ({ Authorization: bearer, 'Content-Type': 'application/json' });
    const group = await ctx.send(
      ctx.make({
        service: 'release-service',
        method: 'POST',
        route: '/api/v4/groups',
        path: '/api/v4/groups',
        label: `reserved-group-path:${key}`,
        headers: headers(ctx.adminToken),
        body: json({ path: key, name: `Reserved ${key}` }),
        expect: 'any',
        check: (r) => (r.status === 201 ? undefined : refusedNaming('path')(r)),
      }),
    );
    outcomes.push(group);
    const id = group.response.status === 201 ? idOf(group.response) : undefined;
    if (id === undefined) continue;
    const owner = rawBearer(
      `{"sub":"3","name":"reserved-owner","iat":${nowS},"exp":${nowS + 3600},"groups":{${JSON.stringify(key)}:"owner"}}`,
      ctx.secret,
    );
    outcomes.push(
      await ctx.send(
        ctx.make({
          service: 'release-service',
          method: 'POST',
          route: '/api/v4/projects',
          path: '/api/v4/projects',
          label: `reserved-group-path:${key}:project-by-its-owner`,
          headers: headers(owner),
          body: json({ path: 'inside', name: 'Inside', namespace_id: Number(id) }),
          expect: 'any',
          check: status([201]),
        }),
      ),
    );
  }
  return outcomes;
}
