import { AuditEventFilters } from './audit-event-filters';
import {
  AuditEventSearch,
  AuditScope,
  exportStatement,
  filterConditions,
  MERGE_BUDGET,
  searchStatement,
} from './audit-events.sql';

const tree = (projects: number): AuditScope => ({
  kind: 'entities',
  groupIds: [1, 2],
  projectIds: Array.from({ length: projects }, (_, i) => 10 + i),
});
const search = (
  scope: AuditScope,
  filters: AuditEventFilters = {},
  extra: Partial<AuditEventSearch> = {},
): AuditEventSearch => ({ scope, filters, sort: 'desc', limit: 21, ...extra });
/** The numbers of the `$n` placeholders of `text`, in order of appearance. */
const placeholders = (text: string) => [...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1]));
const merges = (sql: string) => sql.includes('cross join lateral');

const every: AuditEventFilters = {
  createdAfter: '2026-11-01T00:00:00.000Z',
  createdBefore: '2026-11-30T00:00:00.000Z',
  eventTypes: ['release_created', 'release_deleted'],
  authorId: 1,
  entityType: 'Project',
  entityId: 29,
  targetType: 'Release',
  targetId: 7,
};
const after = { createdAt: '2026-11-21T10:15:30.123000Z', id: '0f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10' };

describe('searchStatement', () => {
  it.each([
    ['instance', search({ kind: 'instance' })],
    ['instance, every filter, after a cursor', search({ kind: 'instance' }, every, { after })],
    ['entity', search({ kind: 'entity', entityType: 'Project', entityId: 29 }, every, { after, sort: 'asc' })],
    ['tree, merged', search(tree(3), { createdAfter: every.createdAfter }, { after })],
    ['tree, membership', search(tree(3), every, { after })],
  ])('binds one value per placeholder, numbered $1..$n in order, with no other kind: %s', (_, s) => {
    const { text, params } = searchStatement(s);
    expect(placeholders(text)).toEqual(params.map((_, i) => i + 1));
    expect(text).not.toContain('?');
    expect(params.every((p) => p !== undefined)).toBe(true);
  });

  it('binds every value instead of writing it into the text', () => {
    const hostile = "x'); drop table audit_events; --";
    const { text, params } = searchStatement(
      search(
        { kind: 'instance' },
        { eventTypes: [hostile], targetType: hostile, createdAfter: hostile },
        { after: { createdAt: hostile, id: hostile } },
      ),
    );
    expect(text).not.toContain('drop table');
    expect(params.filter((p) => p === hostile)).toHaveLength(5);
  });

  it('orders by created_at then id in the requested direction, with the keyset on the same side', () => {
    expect(searchStatement(search({ kind: 'instance' }, {}, { after })).text).toMatch(
      /\(a\.created_at, a\.id\) < .*order by a\.created_at desc, a\.id desc limit \$\d+$/s,
    );
    expect(searchStatement(search({ kind: 'instance' }, {}, { after, sort: 'asc' })).text).toMatch(
      /\(a\.created_at, a\.id\) > .*order by a\.created_at asc, a\.id asc limit \$\d+$/s,
    );
  });

  it('merges per-entity scans for a small tree with only date and entity filters', () => {
    expect(
      merges(
        searchStatement(search(tree(3), { createdAfter: every.createdAfter, entityType: 'Group', entityId: 2 })).text,
      ),
    ).toBe(true);
  });

  it.each([
    ['author_id', { authorId: 1 }],
    ['event_type', { eventTypes: ['release_created'] }],
    ['target_type', { targetType: 'Release' }],
    ['target_id', { targetId: 7 }],
  ])(
    'tests membership instead when %s is filtered (an entity without a match would be read to its end)',
    (_, filters) => {
      expect(merges(searchStatement(search(tree(3), filters)).text)).toBe(false);
    },
  );

  it('tests membership instead when entities × limit exceeds the budget (large trees, export batches)', () => {
    const entities = Math.floor(MERGE_BUDGET / 21);
    expect(merges(searchStatement(search(tree(entities - 2))).text)).toBe(true);
    expect(merges(searchStatement(search(tree(entities))).text)).toBe(false);
    expect(merges(searchStatement(search(tree(3), {}, { limit: 5001 })).text)).toBe(false);
  });

  it('passes tree ids as array literals of integers', () => {
    expect(searchStatement(search(tree(2))).params.slice(0, 2)).toEqual(['{1,2}', '{10,11}']);
  });
});

describe('filterConditions', () => {
  it('has no condition without filters', () => {
    expect(filterConditions({ filters: {}, sort: 'desc' })).toEqual({ text: '', params: [] });
  });

  it('makes both date bounds inclusive', () => {
    expect(filterConditions({ filters: { createdAfter: 'x', createdBefore: 'y' }, sort: 'desc' })).toEqual({
      text: 'a.created_at >= $1::timestamptz and a.created_at <= $2::timestamptz',
      params: ['x', 'y'],
    });
  });
});

describe('exportStatement', () => {
  it.each([
    ['instance', search({ kind: 'instance' }, every, { after })],
    ['entity', search({ kind: 'entity', entityType: 'Project', entityId: 29 }, {}, { sort: 'asc' })],
    ['tree, merged', search(tree(3), { createdAfter: every.createdAfter }, { after })],
    ['tree, membership', search(tree(3), every, { after })],
  ])('reads the rows of the search, with the stored text and the chain fields: %s', (_, s) => {
    const list = searchStatement(s);
    const exported = exportStatement(s);
    expect(exported.params).toEqual(list.params);
    expect(exported.text).toMatch(
      /^select a\.payload::text as payload, a\.chain_id, a\.chain_seq, encode\(a\.prev_hash, 'hex'\) as prev_hash, encode\(a\.hash, 'hex'\) as hash, a\.id, /,
    );
    // The same rows in the same order: only the selected columns differ.
    expect(exported.text.slice(exported.text.indexOf(', a.id, '))).toBe(list.text.slice(list.text.indexOf(', a.id, ')));
  });
});
