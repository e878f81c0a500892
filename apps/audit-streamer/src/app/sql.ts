/**
 * Why raw SQL (through the EntityManager, so it joins the caller's transaction) and no entities:
 * every statement of this service is set-based or concurrency-sensitive — upserts of a whole chunk,
 * `INSERT ... SELECT ... ON CONFLICT DO NOTHING` fan-out to destinations, `FOR UPDATE SKIP LOCKED`
 * claims, case-insensitive unique keys — which the unit of work does not express. One style for
 * the whole app keeps it readable; the repositories are the only files that speak SQL.
 *
 * Bindings are `?` (knex). Arrays and record sets travel as one JSON parameter, because knex
 * expands a JS array binding into a list of parameters.
 */
export const json = (value: unknown): string => JSON.stringify(value);

/** int8 columns arrive as strings from pg; ids of this service stay far below 2^53. */
export const toNumber = (value: unknown): number => Number(value);

export const toIso = (value: unknown): string => new Date(value as string | Date).toISOString();

export const toIsoOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : toIso(value);
