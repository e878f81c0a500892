import { EntityType } from '@audit/contracts';
import { CursorPosition, SortOrder } from './audit-event-cursor';
import { AuditEventFilters } from './audit-event-filters';

/*
 * The search statement of the query API and the export. Every shape ends in
 * `order by created_at, id limit n` with the keyset as a row comparison, so each page is one
 * ordered index range scan (indexes in Migration20261121000001/2) and the cost of a page does not
 * grow with its depth.
 */

/**
 * Whose events: everything, one group or project, or a set of them: a group's tree, resolved to
 * ids from the namespaces read model before the search (so the planner sees the actual ids).
 */
export type AuditScope =
  | { kind: 'instance' }
  | { kind: 'entity'; entityType: EntityType; entityId: number }
  | { kind: 'entities'; groupIds: number[]; projectIds: number[] };

export interface AuditEventSearch {
  scope: AuditScope;
  filters: AuditEventFilters;
  sort: SortOrder;
  limit: number;
  after?: CursorPosition;
}

export interface Statement {
  sql: string;
  params: unknown[];
}

const idArray = (ids: number[]) => `{${ids.map((id) => Math.trunc(id)).join(',')}}`;

// Microseconds, not the payload's milliseconds: the cursor must name a row's exact position.
const CURSOR_AT = `to_char(a.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`;

/** The conditions on one row of `audit_events a`, scope excluded. */
export function filterConditions(search: Pick<AuditEventSearch, 'filters' | 'sort' | 'after'>): Statement {
  const { filters: f, after } = search;
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, ...values: unknown[]) => {
    where.push(sql);
    params.push(...values);
  };
  if (f.createdAfter !== undefined) add('a.created_at >= ?::timestamptz', f.createdAfter);
  if (f.createdBefore !== undefined) add('a.created_at <= ?::timestamptz', f.createdBefore);
  if (f.eventTypes?.length) add(`a.event_type in (${f.eventTypes.map(() => '?').join(', ')})`, ...f.eventTypes);
  if (f.authorId !== undefined) add('a.author_id = ?', f.authorId);
  if (f.entityType !== undefined) add('a.entity_type = ?', f.entityType);
  if (f.entityId !== undefined) add('a.entity_id = ?', f.entityId);
  if (f.targetType !== undefined) add('a.target_type = ?', f.targetType);
  if (f.targetId !== undefined) add('a.target_id = ?', f.targetId);
  // A row comparison, which PostgreSQL turns into an index bound on (created_at, id).
  if (after)
    add(
      `(a.created_at, a.id) ${search.sort === 'desc' ? '<' : '>'} (?::timestamptz, ?::uuid)`,
      after.createdAt,
      after.id,
    );
  return { sql: where.join(' and '), params };
}

const and = (...parts: string[]) => parts.filter(Boolean).join(' and ');
const whereOf = (...parts: string[]) => (and(...parts) ? `where ${and(...parts)}` : '');

/**
 * Selects `payload`, `id` and `cursor_at` of at most `search.limit` rows, in order.
 *
 * A set of entities is read one of two ways. With no filter beyond dates and entities, and while
 * entities x limit stays within MERGE_BUDGET, one ordered scan of audit_events_entity per entity,
 * each stopping after `limit` rows, merged: bounded work whatever the tree's size or the page's
 * depth, index-only (every condition is on index columns) and the payload read for the page alone.
 * Otherwise membership is a hashed test and the planner drives the scan from the best index (the
 * filter's own, or created_at for a large tree): an author, type or target filter would make a
 * per-entity scan read every row of each entity without a match.
 */
export function searchStatement(search: AuditEventSearch): Statement {
  const order = (alias: string) => `order by ${alias}.created_at ${search.sort}, ${alias}.id ${search.sort}`;
  const filters = filterConditions(search);
  const { scope, limit } = search;
  const select = `select a.payload, a.id, ${CURSOR_AT}`;
  if (scope.kind === 'instance') {
    return {
      sql: `${select} from audit_events a ${whereOf(filters.sql)} ${order('a')} limit ?`,
      params: [...filters.params, limit],
    };
  }
  if (scope.kind === 'entity') {
    return {
      sql: `${select} from audit_events a ${whereOf('a.entity_type = ? and a.entity_id = ?', filters.sql)} ${order('a')} limit ?`,
      params: [scope.entityType, scope.entityId, ...filters.params, limit],
    };
  }
  const ids = [idArray(scope.groupIds), idArray(scope.projectIds)];
  if (!mergeable(search, scope.groupIds.length + scope.projectIds.length)) {
    const member = `((a.entity_type = 'Group' and a.entity_id = any(?::bigint[])) or (a.entity_type = 'Project' and a.entity_id = any(?::bigint[])))`;
    return {
      sql: `${select} from audit_events a ${whereOf(member, filters.sql)} ${order('a')} limit ?`,
      params: [...ids, ...filters.params, limit],
    };
  }
  return {
    sql: `${select} from (
        select k.id from (
          select 'Group'::text as entity_type, unnest(?::bigint[]) as entity_id
          union all
          select 'Project'::text, unnest(?::bigint[])
        ) t cross join lateral (
          select a.created_at, a.id from audit_events a
          ${whereOf('a.entity_type = t.entity_type and a.entity_id = t.entity_id', filters.sql)} ${order('a')} limit ?
        ) k ${order('k')} limit ?
      ) k join audit_events a on a.id = k.id ${order('a')}`,
    params: [...ids, ...filters.params, limit, limit],
  };
}

/**
 * Index entries a merged read may touch: about 950 entities for a page of 20, 200 for a page of
 * 100 (~0.02 ms per entity); larger trees are a large share of all events, which the created_at
 * order with a membership test reads cheaply.
 */
export const MERGE_BUDGET = 20_000;

function mergeable({ filters: f, limit }: AuditEventSearch, entities: number): boolean {
  const selective =
    f.authorId !== undefined || !!f.eventTypes?.length || f.targetType !== undefined || f.targetId !== undefined;
  return !selective && entities * limit <= MERGE_BUDGET;
}
