import { FieldProblem, INSTANT_MESSAGE, isoInstant, parseInput, ValidationError } from '@audit/platform';
import { EntityType } from '@audit/contracts';
import { z } from 'zod';
import { AuditEventCursor, CursorPosition, decodeCursor, SortOrder } from './audit-event-cursor';

/*
 * The query parameters of the audit event routes (docs/contracts.md, audit-recorder). Parsing is strict:
 * an unknown parameter, a parameter given twice where it may be given once, or a value that would
 * silently widen the result (an unparseable date, a date-time without offset) is a 400 naming it.
 */

export interface AuditEventFilters {
  /** Inclusive bounds, ISO 8601 UTC with milliseconds. */
  createdAfter?: string;
  createdBefore?: string;
  eventTypes?: string[];
  authorId?: number;
  entityType?: EntityType;
  entityId?: number;
  targetType?: string;
  targetId?: number;
}

export interface ListQuery {
  filters: AuditEventFilters;
  sort: SortOrder;
  perPage: number;
  after?: CursorPosition;
}

export interface ExportQuery {
  filters: AuditEventFilters;
  sort: SortOrder;
}

export const MAX_EVENT_TYPES = 50;
const ONCE = { invalid_type_error: 'must be given once' };
// zod refuses invalid_type_error together with an error map, so enums word both cases here.
const oneOf =
  (allowed: string): z.ZodErrorMap =>
  (issue) => ({ message: issue.code === z.ZodIssueCode.invalid_type ? ONCE.invalid_type_error : `must be ${allowed}` });

const instant = isoInstant(INSTANT_MESSAGE, ONCE);

// Ids start at 1. Zero passed here once, matched nothing, and then failed the schema of the export's
// own audit event (ids are positive there): the CSV was served but the export went unrecorded.
const integerId = z
  .string(ONCE)
  .regex(/^[1-9]\d{0,14}$/, 'must be a positive integer')
  .transform(Number);

const EVENT_TYPE = /^[a-z][a-z0-9_]{0,99}$/;

// Repeatable: one value arrives as a string, several as an array. Checked here rather than per
// element so a problem names the parameter, not an index into it.
const eventTypes = z.union([z.string(), z.array(z.string())]).transform((value, ctx) => {
  const list = [...new Set(Array.isArray(value) ? value : [value])];
  const bad = list.findIndex((type) => !EVENT_TYPE.test(type));
  if (bad >= 0)
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `must be audit event types such as release_created (value ${bad + 1} is not)`,
    });
  if (list.length > MAX_EVENT_TYPES)
    ctx.addIssue({ code: z.ZodIssueCode.custom, message: `may be given at most ${MAX_EVENT_TYPES} times` });
  return list;
});

const filterShape = {
  created_after: instant
    .describe('Events created at or after this instant: ISO 8601 date (start of the day, UTC) or date-time with offset')
    .optional(),
  created_before: instant
    .describe(
      'Events created at or before this instant: ISO 8601 date (start of the day, UTC) or date-time with offset',
    )
    .optional(),
  event_type: eventTypes
    .describe(`Audit event type, e.g. release_created; repeat for several (at most ${MAX_EVENT_TYPES})`)
    .optional(),
  author_id: integerId.describe('Id of the user who caused the event').optional(),
  entity_type: z
    .enum(['Group', 'Project', 'Instance'], { errorMap: oneOf('Group, Project or Instance') })
    .describe('Group, Project or Instance')
    .optional(),
  entity_id: integerId.describe('Id of the group or project (requires entity_type)').optional(),
  target_type: z.string(ONCE).min(1).max(255).describe('Type of the object acted on, e.g. Release').optional(),
  target_id: integerId.describe('Id of the object acted on').optional(),
  sort: z
    .enum(['asc', 'desc'], { errorMap: oneOf('asc or desc') })
    .default('desc')
    .describe('Order by creation time (ties by id)'),
};

/** The export takes the filters and the order, and returns every matching row: no page, no cursor. */
export const ExportQuerySchema = z.object(filterShape).strict();

export const ListQuerySchema = z
  .object({
    ...filterShape,
    per_page: z
      .string(ONCE)
      .regex(/^(?:100|[1-9]\d?)$/, 'must be an integer between 1 and 100')
      .default('20')
      .transform(Number)
      .describe('Events per page, 1 to 100'),
    cursor: z
      .string(ONCE)
      .min(1)
      .max(512)
      .describe('Opaque position from the Link rel="next" URL; only valid with the same sort')
      .optional(),
  })
  .strict();

type ParsedFilters = z.infer<typeof ExportQuerySchema>;

/** Checks that need more than one parameter; every problem is reported, not just the first. */
function toFilters(query: ParsedFilters): AuditEventFilters {
  const problems: FieldProblem[] = [];
  if (query.created_after && query.created_before && query.created_after > query.created_before) {
    problems.push({ field: 'created_after', message: 'must not be later than created_before' });
  }
  // Ids are per type (group 5 and project 5 are different entities), so an id alone means nothing.
  if (query.entity_id !== undefined && !query.entity_type) {
    problems.push({ field: 'entity_id', message: 'requires entity_type' });
  }
  if (problems.length > 0) throw invalid(problems);
  return {
    createdAfter: query.created_after,
    createdBefore: query.created_before,
    eventTypes: query.event_type?.length ? query.event_type : undefined,
    authorId: query.author_id,
    entityType: query.entity_type,
    entityId: query.entity_id,
    targetType: query.target_type,
    targetId: query.target_id,
  };
}

const invalid = (problems: FieldProblem[]) =>
  new ValidationError(`Invalid query: ${problems.map((p) => `${p.field} ${p.message}`).join('; ')}`, problems);

export function parseExportQuery(raw: unknown): ExportQuery {
  const query = parseInput(ExportQuerySchema, raw, 'query');
  return { filters: toFilters(query), sort: query.sort };
}

/** `cursorKey` authenticates cursors, so an edited cursor is refused rather than followed. */
export function parseListQuery(raw: unknown, cursorKey: Buffer): ListQuery {
  const query = parseInput(ListQuerySchema, raw, 'query');
  const filters = toFilters(query);
  let cursor: AuditEventCursor | null = null;
  if (query.cursor !== undefined) {
    cursor = decodeCursor(query.cursor, cursorKey);
    if (!cursor) throw invalid([{ field: 'cursor', message: 'is not a valid cursor' }]);
    // A position in one order is a different, meaningless place in the other.
    if (cursor.sort !== query.sort)
      throw invalid([{ field: 'cursor', message: `was issued for sort=${cursor.sort}, not sort=${query.sort}` }]);
  }
  return {
    filters,
    sort: query.sort,
    perPage: query.per_page,
    after: cursor ? { createdAt: cursor.createdAt, id: cursor.id } : undefined,
  };
}
