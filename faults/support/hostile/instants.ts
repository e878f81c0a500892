import { Endpoint, JsonSchema } from './endpoints';

/*
 * Instants outside what the platform stores (years 0001 to 9999, README "API overview"). PostgreSQL has
 * no year 0, so `0000-01-01` reached the database and came back as a 500; an offset can carry an
 * instant that looks in range out of it (`0001-01-01T00:30:00+01:00` is in year 0); JavaScript writes
 * years past 9999 as `+010000-…`, which PostgreSQL does not read; `+275760-09-13` is the last instant
 * a JavaScript Date holds. Each must be a 400 naming the parameter, never a 500.
 */
export const OUT_OF_RANGE_INSTANTS: Array<[string, string]> = [
  ['year-0', '0000-01-01'],
  ['year-0-last-second', '0000-12-31T23:59:59Z'],
  ['year-0-by-offset', '0001-01-01T00:30:00+01:00'],
  ['year-10000-by-offset', '9999-12-31T23:30:00-01:00'],
  ['year-10000', '10000-01-01'],
  ['year-minus-1', '-000001-01-01'],
  ['javascript-max-date', '+275760-09-13T00:00:00Z'],
];

/** Parameters every service reads as instants, whatever their documents say of them. */
const KNOWN_INSTANTS = new Set(['created_after', 'created_before', 'since']);

/**
 * Whether a documented parameter is an instant: a known name, a date or date-time format, or a
 * description that says so (the recorder documents its filters in words only).
 */
export const isInstant = (name: string, schema: JsonSchema): boolean =>
  KNOWN_INSTANTS.has(name) ||
  schema.format === 'date' ||
  schema.format === 'date-time' ||
  /\binstant\b|ISO 8601/i.test(schema.description ?? '');

/** The instant parameters of an endpoint: in its query, and among its body's top-level fields. */
export function instantParameters(e: Endpoint): { query: string[]; body: string[] } {
  return {
    query: e.query.filter((q) => isInstant(q.name, q.schema)).map((q) => q.name),
    body: Object.entries(e.body?.properties ?? {})
      .filter(([name, schema]) => isInstant(name, schema))
      .map(([name]) => name),
  };
}
