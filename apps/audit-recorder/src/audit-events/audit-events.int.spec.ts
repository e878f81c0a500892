import request from 'supertest';
import { AuditEvent } from '@audit/contracts';
import { bearer, uniqueSuffix } from '@audit/testing';
import {
  auditEvent,
  insertEvents,
  insertNamespaces,
  Namespace,
  nextLink,
  RecorderUnderTest,
  sorted,
  startRecorder,
} from '../../test/audit-events.int-support';

/*
 * The query API against the real PostgreSQL: every filter and both orders compared with the same
 * selection done in memory, paging through every page; the 400s; who sees what.
 */
jest.setTimeout(120_000);

const acme: Namespace = { kind: 'Group', id: 100, full_path: 'acme', parent_id: null };
const sub: Namespace = { kind: 'Group', id: 101, full_path: 'acme/sub', parent_id: 100 };
const other: Namespace = { kind: 'Group', id: 200, full_path: 'other', parent_id: null };
const web: Namespace = { kind: 'Project', id: 10, full_path: 'acme/web', parent_id: 100 };
const api: Namespace = { kind: 'Project', id: 11, full_path: 'acme/sub/api', parent_id: 101 };
const site: Namespace = { kind: 'Project', id: 20, full_path: 'other/site', parent_id: 200 };
const entities = [web, api, site, acme, sub, other];
const TYPES = ['release_created', 'release_updated', 'release_deleted', 'group_created'];

// 120 events over 15 days; two per timestamp, so pages often split rows that share a created_at.
const events: AuditEvent[] = Array.from({ length: 120 }, (_, i) =>
  auditEvent({
    entity: entities[i % entities.length],
    createdAt: new Date(Date.UTC(2026, 10, 1) + Math.floor(i / 2) * 6 * 3_600_000).toISOString(),
    eventType: TYPES[i % TYPES.length],
    authorId: 1 + (i % 3),
    targetType: i % 7 === 0 ? 'Milestone' : 'Release',
    targetId: 1 + (i % 5),
  }),
);

const admin = bearer({ sub: '1', name: 'root', admin: true });
const auditor = bearer({ sub: '2', name: 'auditor', auditor: true });
const as = (role: string, path: string) =>
  bearer({ sub: '42', name: `${role}-user`, groups: { [path]: role as never } });

let recorder: RecorderUnderTest;
let http: ReturnType<typeof request>;

beforeAll(async () => {
  recorder = await startRecorder(uniqueSuffix());
  http = request(recorder.app.getHttpServer());
  await insertNamespaces(recorder.app, entities);
  await insertEvents(recorder.app, events);
});
afterAll(async () => {
  await recorder?.close();
});

/** Follows Link rel="next" to the end; fails on a page that is not 200 or a loop. */
async function allPages(path: string, token = admin): Promise<{ ids: string[]; pages: number }> {
  const ids: string[] = [];
  let next: string | undefined = path;
  let pages = 0;
  while (next) {
    const res = await http.get(next).set('Authorization', token).expect(200);
    ids.push(...(res.body as AuditEvent[]).map((e) => e.id));
    next = nextLink(res.headers['link']);
    if (++pages > 200) throw new Error('pagination does not end');
  }
  return { ids, pages };
}

const inTree = (paths: string[]) => (e: AuditEvent) =>
  paths.some((p) => e.entity_path === p || e.entity_path.startsWith(`${p}/`));

const FILTERS: Array<[string, (e: AuditEvent) => boolean]> = [
  ['', () => true],
  ['created_after=2026-11-05T12:00:00Z', (e) => e.created_at >= '2026-11-05T12:00:00.000Z'],
  ['created_before=2026-11-05', (e) => e.created_at <= '2026-11-05T00:00:00.000Z'],
  [
    'created_after=2026-11-03T06:00:00%2B02:00&created_before=2026-11-09',
    (e) => e.created_at >= '2026-11-03T04:00:00.000Z' && e.created_at <= '2026-11-09T00:00:00.000Z',
  ],
  ['event_type=release_deleted', (e) => e.event_type === 'release_deleted'],
  [
    'event_type=release_deleted&event_type=group_created',
    (e) => ['release_deleted', 'group_created'].includes(e.event_type),
  ],
  ['author_id=2', (e) => e.author_id === 2],
  ['entity_type=Group', (e) => e.entity_type === 'Group'],
  ['entity_type=Project&entity_id=11', (e) => e.entity_type === 'Project' && e.entity_id === 11],
  ['target_type=Milestone', (e) => e.target_type === 'Milestone'],
  ['target_type=Release&target_id=3', (e) => e.target_type === 'Release' && e.target_id === 3],
  [
    'author_id=1&event_type=release_created&created_after=2026-11-04',
    (e) => e.author_id === 1 && e.event_type === 'release_created' && e.created_at >= '2026-11-04',
  ],
  ['event_type=nothing_like_this', () => false],
];

describe('audit event query API (real PostgreSQL)', () => {
  describe.each(['desc', 'asc'] as const)('sort=%s', (sort) => {
    it.each(FILTERS)('instance ?%s: every page, no duplicates, no gaps, in order', async (filter, matches) => {
      const { ids, pages } = await allPages(`/api/v4/audit_events?per_page=7&sort=${sort}&${filter}`);
      const expected = sorted(events.filter(matches), sort).map((e) => e.id);
      expect(ids).toEqual(expected);
      expect(pages).toBe(Math.max(1, Math.ceil(expected.length / 7)));
    });

    it('group tree, with filters, by numeric id and by path', async () => {
      const owner = as('owner', 'acme');
      const ids = (matches: (e: AuditEvent) => boolean) =>
        sorted(
          events.filter((e) => inTree(['acme'])(e) && matches(e)),
          sort,
        ).map((e) => e.id);
      const byId = await allPages(
        `/api/v4/groups/100/audit_events?per_page=5&sort=${sort}&created_after=2026-11-03`,
        owner,
      );
      expect(byId.ids).toEqual(ids((e) => e.created_at >= '2026-11-03'));
      const byPath = await allPages(
        `/api/v4/groups/ACME/audit_events?per_page=4&sort=${sort}&event_type=release_created&event_type=group_created`,
        owner,
      );
      expect(byPath.ids).toEqual(ids((e) => ['release_created', 'group_created'].includes(e.event_type)));
      const oneEntity = await allPages(
        `/api/v4/groups/acme/audit_events?per_page=3&sort=${sort}&entity_type=Group&entity_id=101`,
        owner,
      );
      expect(oneEntity.ids).toEqual(ids((e) => e.entity_type === 'Group' && e.entity_id === 101));
      expect(oneEntity.ids.length).toBeGreaterThan(0);
    });

    it('a subgroup is its own tree', async () => {
      const { ids } = await allPages(
        `/api/v4/groups/${encodeURIComponent('acme/sub')}/audit_events?per_page=3&sort=${sort}`,
        as('owner', 'acme/sub'),
      );
      expect(ids).toEqual(sorted(events.filter(inTree(['acme/sub'])), sort).map((e) => e.id));
    });

    it('project, with filters', async () => {
      const { ids } = await allPages(
        `/api/v4/projects/${encodeURIComponent('acme/web')}/audit_events?per_page=2&sort=${sort}&target_type=Release`,
        as('maintainer', 'acme/web'),
      );
      expect(ids).toEqual(
        sorted(
          events.filter((e) => e.entity_path === 'acme/web' && e.target_type === 'Release'),
          sort,
        ).map((e) => e.id),
      );
    });
  });

  it('pages 20 by default and at most 100, and the last page has no Link', async () => {
    const first = await http.get('/api/v4/audit_events').set('Authorization', admin).expect(200);
    expect(first.body).toHaveLength(20);
    expect(first.body.map((e: AuditEvent) => e.id)).toEqual(
      sorted(events, 'desc')
        .slice(0, 20)
        .map((e) => e.id),
    );
    const big = await http.get('/api/v4/audit_events?per_page=100').set('Authorization', admin).expect(200);
    expect(big.body).toHaveLength(100);
    const last = await http
      .get(nextLink(big.headers['link']) ?? '')
      .set('Authorization', admin)
      .expect(200);
    expect(last.body).toHaveLength(20);
    expect(last.headers['link']).toBeUndefined();
  });

  it('keeps every filter and the sort in the next link', async () => {
    const res = await http
      .get(
        '/api/v4/audit_events?per_page=2&sort=asc&event_type=release_created&event_type=release_updated&author_id=1&target_type=Release',
      )
      .set('Authorization', admin)
      .expect(200);
    const next = new URL(`http://x${nextLink(res.headers['link'])}`).searchParams;
    expect(next.getAll('event_type')).toEqual(['release_created', 'release_updated']);
    expect([next.get('sort'), next.get('author_id'), next.get('target_type'), next.get('per_page')]).toEqual([
      'asc',
      '1',
      'Release',
      '2',
    ]);
    expect(next.get('cursor')).toBeTruthy();
  });

  it('never builds the next link from the Host header: a hostile Host is not reflected, a malformed one is not a 500', async () => {
    for (const host of ['evil.example:666', 'a b', '[::1', '']) {
      const res = await http.get('/api/v4/audit_events?per_page=2').set('Authorization', admin).set('Host', host);
      expect(res.status).toBe(200);
      expect(res.headers['link']).toMatch(/^<\/api\/v4\/audit_events\?per_page=2&cursor=[^>]+>; rel="next"$/);
    }
  });

  it('builds absolute links on PUBLIC_URL when one is configured', async () => {
    const behindProxy = await startRecorder(uniqueSuffix(), { PUBLIC_URL: 'https://audit.example.com/recorder/' });
    try {
      await insertEvents(behindProxy.app, events.slice(0, 3));
      const res = await request(behindProxy.app.getHttpServer())
        .get('/api/v4/audit_events?per_page=2')
        .set('Authorization', admin)
        .set('Host', 'evil.example:666')
        .expect(200);
      expect(res.headers['link']).toMatch(
        /^<https:\/\/audit\.example\.com\/recorder\/api\/v4\/audit_events\?per_page=2&cursor=[^>]+>; rel="next"$/,
      );
    } finally {
      await behindProxy.close();
    }
  });

  it('limits requests per user per minute: RateLimit-* headers on every answer, then a 429 problem with Retry-After', async () => {
    const limited = await startRecorder(uniqueSuffix(), { RATE_LIMIT_PER_MINUTE: '2' });
    try {
      const client = request(limited.app.getHttpServer());
      const first = await client.get('/api/v4/audit_events').set('Authorization', admin).expect(200);
      expect([first.headers['ratelimit-limit'], first.headers['ratelimit-remaining']]).toEqual(['2', '1']);
      expect(Number(first.headers['ratelimit-reset'])).toBeGreaterThanOrEqual(1);
      await client.get('/api/v4/audit_events').set('Authorization', admin).expect(200);
      const refused = await client.get('/api/v4/audit_events/export.csv').set('Authorization', admin).expect(429);
      expect(refused.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(Number(refused.headers['retry-after'])).toBeGreaterThanOrEqual(1);
      expect(refused.headers['ratelimit-remaining']).toBe('0');
      expect(refused.body).toMatchObject({
        status: 429,
        title: 'Too Many Requests',
        detail: expect.stringMatching(/Rate limit of 2 requests per minute/),
      });
      // Per user: the auditor still has a full minute's budget; health probes need no token and count nothing.
      await client.get('/api/v4/audit_events').set('Authorization', auditor).expect(200);
      await client.get('/health').expect(200);
    } finally {
      await limited.close();
    }
  });

  it('returns each stored event whole, as in the contract', async () => {
    const res = await http.get('/api/v4/audit_events?per_page=1&sort=asc').set('Authorization', auditor).expect(200);
    expect(res.body).toEqual([sorted(events, 'asc')[0]]);
  });

  it('documents the query parameters of every list and export route in /docs-json', async () => {
    const doc = (await http.get('/docs-json').expect(200)).body as {
      paths: Record<string, { get: { parameters: Array<{ name: string; in: string }> } }>;
    };
    const names = (path: string) =>
      doc.paths[path].get.parameters
        .filter((p) => p.in === 'query')
        .map((p) => p.name)
        .sort();
    const filters = [
      'author_id',
      'created_after',
      'created_before',
      'entity_id',
      'entity_type',
      'event_type',
      'sort',
      'target_id',
      'target_type',
    ];
    for (const path of [
      '/api/v4/audit_events',
      '/api/v4/groups/{id}/audit_events',
      '/api/v4/projects/{id}/audit_events',
    ]) {
      expect(names(path)).toEqual([...filters, 'cursor', 'per_page'].sort());
      expect(names(`${path}/export.csv`)).toEqual(filters);
      expect(names(`${path}/export`)).toEqual([...filters, 'format'].sort());
    }
  });

  describe('400 naming the parameter', () => {
    it.each([
      ['created_after=yesterday', 'created_after'],
      ['created_before=2026-02-30', 'created_before'],
      ['created_after=2026-11-21T10:00:00', 'created_after'],
      ['created_after=0000-01-01', 'created_after'], // PostgreSQL has no year 0: this was a 500
      ['created_before=9999-12-31T23:30:00-01:00', 'created_before'], // year 10000 in UTC
      ['created_after=2026-11-10&created_before=2026-11-09', 'created_after'],
      ['per_page=0', 'per_page'],
      ['per_page=101', 'per_page'],
      ['per_page=abc', 'per_page'],
      ['sort=sideways', 'sort'],
      ['entity_type=User', 'entity_type'],
      ['entity_id=10', 'entity_id'],
      ['author_id=x', 'author_id'],
      ['author_id=1&author_id=2', 'author_id'],
      ['event_type=Bad%20Type', 'event_type'],
      ['event_type=t0&...&event_type=t50', 'event_type'],
      ['page=2', 'page'],
      ['event_type[]=release_created', 'event_type[]'],
      ['cursor=bm90IGEgY3Vyc29y', 'cursor'],
    ])('?%s', async (query, field) => {
      const expanded = query.replace(
        'event_type=t0&...&event_type=t50',
        Array.from({ length: 51 }, (_, i) => `event_type=t${i}`).join('&'),
      );
      const res = await http.get(`/api/v4/audit_events?${expanded}`).set('Authorization', admin).expect(400);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.body.errors.map((e: { field: string }) => e.field)).toContain(field);
    });

    it('for a tampered cursor and for a cursor used with the other sort', async () => {
      const first = await http.get('/api/v4/audit_events?per_page=3').set('Authorization', admin).expect(200);
      const cursor = new URL(`http://x${nextLink(first.headers['link'])}`).searchParams.get('cursor') ?? '';
      const tampered = `${cursor.slice(0, 5)}${cursor[5] === 'A' ? 'B' : 'A'}${cursor.slice(6)}`;
      for (const query of [`cursor=${tampered}&per_page=3`, `cursor=${cursor}&sort=asc`]) {
        const res = await http.get(`/api/v4/audit_events?${query}`).set('Authorization', admin).expect(400);
        expect(res.body.errors).toEqual([expect.objectContaining({ field: 'cursor' })]);
      }
      await http
        .get(`/api/v4/audit_events?cursor=${cursor}&per_page=3&sort=desc`)
        .set('Authorization', admin)
        .expect(200);
    });

    it.each(['/api/v4/groups/acme/audit_events?sort=up', '/api/v4/projects/acme%2Fweb/audit_events?per_page=1000'])(
      'on the scoped routes too: %s',
      async (path) => {
        await http.get(path).set('Authorization', admin).expect(400);
      },
    );
  });

  describe('permissions', () => {
    it.each([
      ['admin', admin, [200, 200, 200]],
      ['auditor', auditor, [200, 200, 200]],
      ['owner of acme', as('owner', 'acme'), [403, 200, 200]],
      ['owner of acme/sub', as('owner', 'acme/sub'), [403, 404, 404]],
      ['maintainer of acme', as('maintainer', 'acme'), [403, 403, 200]],
      ['maintainer of acme/web', as('maintainer', 'acme/web'), [403, 404, 200]],
      ['maintainer of other', as('maintainer', 'other'), [403, 404, 404]],
      ['developer of acme', as('developer', 'acme'), [403, 403, 403]],
      ['reporter of acme', as('reporter', 'acme'), [403, 403, 403]],
      ['guest of acme', as('guest', 'acme'), [403, 403, 403]],
    ])('%s: instance, group acme, project acme/web', async (_, token, statuses) => {
      const paths = [
        '/api/v4/audit_events',
        '/api/v4/groups/acme/audit_events',
        '/api/v4/projects/acme%2Fweb/audit_events',
      ];
      const got = await Promise.all(paths.map(async (p) => (await http.get(p).set('Authorization', token)).status));
      expect(got).toEqual(statuses);
    });

    it('the owner of a group sees its tree and nothing else', async () => {
      const { ids } = await allPages('/api/v4/groups/acme/audit_events?per_page=100', as('owner', 'acme'));
      expect(new Set(ids)).toEqual(new Set(events.filter(inTree(['acme'])).map((e) => e.id)));
    });

    it('401 without a token or with a bad one, 404 for an unknown group or project', async () => {
      for (const path of [
        '/api/v4/audit_events',
        '/api/v4/groups/acme/audit_events',
        '/api/v4/projects/10/audit_events',
      ]) {
        const res = await http.get(path).expect(401);
        expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
        await http.get(path).set('Authorization', 'Bearer not.a.token').expect(401);
      }
      await http.get('/api/v4/groups/nope/audit_events').set('Authorization', admin).expect(404);
      await http.get('/api/v4/projects/999/audit_events').set('Authorization', admin).expect(404);
    });

    it('tells a caller with no role on a group or project exactly what it tells about one that does not exist', async () => {
      const stranger = bearer({ sub: '77', name: 'stranger', groups: {} });
      const cases: Array<[string, string, string]> = [
        ['groups', '100', '999'],
        ['groups', 'acme', 'nope'],
        ['projects', '10', '999'],
        ['projects', 'acme%2Fweb', 'acme%2Fnope'],
      ];
      for (const [kind, existing, missing] of cases) {
        for (const suffix of ['audit_events', 'audit_events/export.csv', 'audit_events/export?format=jsonl']) {
          const [a, b] = await Promise.all(
            [existing, missing].map((id) => http.get(`/api/v4/${kind}/${id}/${suffix}`).set('Authorization', stranger)),
          );
          expect([a.status, b.status]).toEqual([404, 404]);
          // The same words but for the id or path the caller gave; a numeric id does not reveal the path.
          expect(a.body.detail.replace(decodeURIComponent(existing), 'X')).toBe(
            b.body.detail.replace(decodeURIComponent(missing), 'X'),
          );
          if (/^\d+$/.test(existing)) expect(JSON.stringify(a.body)).not.toMatch(/acme/);
        }
      }
    });

    it('a single event is visible to whoever may list it', async () => {
      const event = events.find((e) => e.entity_path === 'acme/web') as AuditEvent;
      await http.get(`/api/v4/audit_events/${event.id}`).set('Authorization', as('maintainer', 'acme/web')).expect(200);
      await http.get(`/api/v4/audit_events/${event.id}`).set('Authorization', as('developer', 'acme/web')).expect(404);
    });
  });
});
