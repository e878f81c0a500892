import { ValidationError } from '@audit/platform';
import { cursorKey, encodeCursor } from './audit-event-cursor';
import { parseExportQuery, parseListQuery } from './audit-event-filters';

const key = cursorKey('test-secret-0123456789-0123456789-0123456789');
const position = { createdAt: '2026-11-21T10:15:30.123000Z', id: '0f7c2c8e-6c2b-4c4e-9a57-1d3c0b2f9a10' };

/** The fields a 400 names, or a failure if there was no 400. */
function rejected(parse: () => unknown): string[] {
  try {
    parse();
  } catch (err) {
    if (err instanceof ValidationError) return err.fields.map((f) => f.field);
    throw err;
  }
  throw new Error('expected a validation error');
}

describe('parseListQuery', () => {
  it('applies the defaults', () => {
    expect(parseListQuery({}, key)).toEqual({ filters: {}, sort: 'desc', perPage: 20, after: undefined });
  });

  it('reads every filter', () => {
    const query = parseListQuery(
      {
        created_after: '2026-11-01',
        created_before: '2026-11-21T10:00:00+01:00',
        event_type: ['release_created', 'release_deleted', 'release_created'],
        author_id: '7',
        entity_type: 'Project',
        entity_id: '29',
        target_type: 'Release',
        target_id: '3',
        sort: 'asc',
        per_page: '100',
      },
      key,
    );
    expect(query).toEqual({
      filters: {
        createdAfter: '2026-11-01T00:00:00.000Z',
        createdBefore: '2026-11-21T09:00:00.000Z',
        eventTypes: ['release_created', 'release_deleted'],
        authorId: 7,
        entityType: 'Project',
        entityId: 29,
        targetType: 'Release',
        targetId: 3,
      },
      sort: 'asc',
      perPage: 100,
      after: undefined,
    });
  });

  it('takes a single event_type as a list of one', () => {
    expect(parseListQuery({ event_type: 'release_created' }, key).filters.eventTypes).toEqual(['release_created']);
  });

  it('accepts equal bounds (both are inclusive)', () => {
    expect(
      parseListQuery({ created_after: '2026-11-21', created_before: '2026-11-21T00:00:00Z' }, key).filters.createdAfter,
    ).toBe('2026-11-21T00:00:00.000Z');
  });

  it('decodes a cursor issued for the same sort', () => {
    const cursor = encodeCursor({ ...position, sort: 'asc' }, key);
    expect(parseListQuery({ cursor, sort: 'asc' }, key).after).toEqual(position);
  });

  it.each([
    [{ created_after: 'last tuesday' }, ['created_after']],
    [{ created_before: '2026-02-30' }, ['created_before']],
    [{ created_after: '2026-11-21T00:00:00.001Z', created_before: '2026-11-21' }, ['created_after']],
    [{ created_after: ['2026-11-01', '2026-11-02'] }, ['created_after']],
    [{ per_page: '0' }, ['per_page']],
    [{ per_page: '101' }, ['per_page']],
    [{ per_page: '2.5' }, ['per_page']],
    [{ per_page: 'ten' }, ['per_page']],
    [{ sort: 'newest' }, ['sort']],
    [{ entity_type: 'User' }, ['entity_type']],
    [{ entity_id: '29' }, ['entity_id']],
    [{ author_id: '-1' }, ['author_id']],
    // 0 names nothing, and the export's own audit event (positive ids) could not record it.
    [{ author_id: '0' }, ['author_id']],
    [{ target_id: '0' }, ['target_id']],
    [{ author_id: ['1', '2'] }, ['author_id']],
    [{ target_id: 'x' }, ['target_id']],
    [{ event_type: 'Release Created' }, ['event_type']],
    [{ event_type: Array.from({ length: 51 }, (_, i) => `type_${i}`) }, ['event_type']],
    [{ page: '2' }, ['page']],
    [{ per_page: '5', colour: 'red', 'event_type[]': 'x' }, ['colour, event_type[]']],
    [{ cursor: 'garbage' }, ['cursor']],
    [{ cursor: '' }, ['cursor']],
  ])('refuses %j naming %j', (input, fields) => {
    expect(rejected(() => parseListQuery(input, key))).toEqual(fields);
  });

  it('says which event_type value is wrong', () => {
    expect(() => parseListQuery({ event_type: ['release_created', 'DROP TABLE'] }, key)).toThrow(
      /event_type must be audit event types .*value 2 is not/,
    );
  });

  it('reports every bad parameter at once', () => {
    expect(rejected(() => parseListQuery({ per_page: '0', sort: 'up', created_after: 'x' }, key)).sort()).toEqual([
      'created_after',
      'per_page',
      'sort',
    ]);
  });

  it('refuses a cursor used with the other sort', () => {
    const cursor = encodeCursor({ ...position, sort: 'desc' }, key);
    expect(rejected(() => parseListQuery({ cursor, sort: 'asc' }, key))).toEqual(['cursor']);
  });

  it('refuses a cursor signed with another key', () => {
    const cursor = encodeCursor({ ...position, sort: 'desc' }, cursorKey('another-secret-0123456789-0123456789'));
    expect(rejected(() => parseListQuery({ cursor }, key))).toEqual(['cursor']);
  });
});

describe('parseExportQuery', () => {
  it('takes the filters and the sort', () => {
    expect(parseExportQuery({ event_type: 'release_created', sort: 'asc' })).toEqual({
      filters: { eventTypes: ['release_created'] },
      sort: 'asc',
    });
  });

  it('refuses pagination parameters: an export has every row', () => {
    expect(rejected(() => parseExportQuery({ per_page: '10' }))).toEqual(['per_page']);
    expect(rejected(() => parseExportQuery({ cursor: 'x' }))).toEqual(['cursor']);
  });
});
