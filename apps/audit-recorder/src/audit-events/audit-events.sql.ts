import { EntityType } from '@audit/contracts';
import { Statement } from '@audit/sql';
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

/** The values of a statement as it is built; `bind` answers the `$n` placeholder of each, in order. */
class Params {
  readonly values: unknown[] = [];

  bind(value: unknown): string {
    this.values.push(value);
    return `$${this.values.length}`;
  }
}

const idArray = (ids: number[]) => `{${ids.map((id) => Math.trunc(id)).join(',')}}`;

// Microseconds, not the payload's milliseconds: the cursor must name a row's exact position.
const CURSOR_AT = `to_char(a.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at`;

/** The conditions on one row of `audit_events a`, scope excluded, with placeholders from `$1`. */
export function filterConditions(search: Pick<AuditEventSearch, 'filters' | 'sort' | 'after'>): Statement {
  const params = new Params();
  return { text: conditions(search, params), params: params.values };
}

/** The conditions on one row of `audit_events a`, scope excluded, their values bound to `params`. */
function conditions(search: Pick<AuditEventSearch, 'filters' | 'sort' | 'after'>, params: Params): string {
  const { filters: f, after } = search;
  const where: string[] = [];
  const $ = (value: unknown) => params.bind(value);
  if (f.createdAfter !== undefined) where.push(`a.created_at >= ${$(f.createdAfter)}::timestamptz`);
  if (f.createdBefore !== undefined) where.push(`a.created_at <= ${$(f.createdBefore)}::timestamptz`);
  if (f.eventTypes?.length) where.push(`a.event_type in (${f.eventTypes.map((t) => $(t)).join(', ')})`);
  if (f.authorId !== undefined) where.push(`a.author_id = ${$(f.authorId)}`);
  if (f.entityType !== undefined) where.push(`a.entity_type = ${$(f.entityType)}`);
  if (f.entityId !== undefined) where.push(`a.entity_id = ${$(f.entityId)}`);
  if (f.targetType !== undefined) where.push(`a.target_type = ${$(f.targetType)}`);
  if (f.targetId !== undefined) where.push(`a.target_id = ${$(f.targetId)}`);
  // A row comparison, which PostgreSQL turns into an index bound on (created_at, id).
  if (after)
    where.push(
      `(a.created_at, a.id) ${search.sort === 'desc' ? '<' : '>'} (${$(after.createdAt)}::timestamptz, ${$(after.id)}::uuid)`,
    );
  return where.join(' and ');
}

const and = (...parts: string[]) => parts.filter(Boolean).join(' and ');
const whereOf = (...parts: string[]) => (and(...parts) ? `where ${and(...parts)}` : '');

/**
 * Selects `columns` (of `audit_events a`; the payload by default), `id` and `cursor_at` of at most
 * `search.limit` rows, in order.
 *
 * A set of entities is read one of two ways. With no filter beyond dates and entities, and while
 * entities x limit stays within MERGE_BUDGET, one ordered scan of audit_events_entity per entity,
 * each stopping after `limit` rows, merged: bounded work whatever the tree's size or the page's
 * depth, index-only (every condition is on index columns) and the payload read for the page alone.
 * Otherwise membership is a hashed test and the planner drives the scan from the best index (the
 * filter's own, or created_at for a large tree): an author, type or target filter would make a
 * per-entity scan read every row of each entity without a match.
 */
export function searchStatement(search: AuditEventSearch, columns = 'a.payload'): Statement {
  const order = (alias: string) => `order by ${alias}.created_at ${search.sort}, ${alias}.id ${search.sort}`;
  const { scope, limit } = search;
  const params = new Params();
  const $ = (value: unknown) => params.bind(value);
  const select = `select ${columns}, a.id, ${CURSOR_AT}`;
  // Placeholders are numbered in the order they appear in the text.
  if (scope.kind === 'instance') {
    const where = whereOf(conditions(search, params));
    return { text: `${select} from audit_events a ${where} ${order('a')} limit ${$(limit)}`, params: params.values };
  }
  if (scope.kind === 'entity') {
    const entity = `a.entity_type = ${$(scope.entityType)} and a.entity_id = ${$(scope.entityId)}`;
    const where = whereOf(entity, conditions(search, params));
    return { text: `${select} from audit_events a ${where} ${order('a')} limit ${$(limit)}`, params: params.values };
  }
  if (!mergeable(search, scope.groupIds.length + scope.projectIds.length)) {
    const member = `((a.entity_type = 'Group' and a.entity_id = any(${$(idArray(scope.groupIds))}::bigint[])) or (a.entity_type = 'Project' and a.entity_id = any(${$(idArray(scope.projectIds))}::bigint[])))`;
    const where = whereOf(member, conditions(search, params));
    return { text: `${select} from audit_events a ${where} ${order('a')} limit ${$(limit)}`, params: params.values };
  }
  const groupIds = $(idArray(scope.groupIds));
  const projectIds = $(idArray(scope.projectIds));
  const where = whereOf('a.entity_type = t.entity_type and a.entity_id = t.entity_id', conditions(search, params));
  const perEntity = $(limit);
  const merged = $(limit);
  // The final join carries created_at as well as the id: the partition key, so each row is looked up in its
  // own month's partition only.
  return {
    text: `${select} from (
        select k.id, k.created_at from (
          select 'Group'::text as entity_type, unnest(${groupIds}::bigint[]) as entity_id
          union all
          select 'Project'::text, unnest(${projectIds}::bigint[])
        ) t cross join lateral (
          select a.created_at, a.id from audit_events a
          ${where} ${order('a')} limit ${perEntity}
        ) k ${order('k')} limit ${merged}
      ) k join audit_events a on a.id = k.id and a.created_at = k.created_at ${order('a')}`,
    params: params.values,
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

/**
 * One row of an export: the event's JSON text exactly as stored (`payload::text`: `json` keeps its text,
 * which is what the chain hashed) and its place in its chain (docs/contracts.md, "Export formats and offline
 * verification"). `chain_seq` is a bigint, which pg returns as a string.
 */
export interface ExportRow {
  payload: string;
  id: string;
  cursor_at: string;
  chain_id: string;
  chain_seq: string;
  prev_hash: string;
  hash: string;
}

const EXPORT_COLUMNS =
  "a.payload::text as payload, a.chain_id, a.chain_seq, encode(a.prev_hash, 'hex') as prev_hash, encode(a.hash, 'hex') as hash";

/** The search of an export: the same rows and order as the lists, read as ExportRow. */
export const exportStatement = (search: AuditEventSearch): Statement => searchStatement(search, EXPORT_COLUMNS);
