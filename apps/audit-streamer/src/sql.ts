/**
 * Row conversions shared by the repositories. Two ways to the database, by the work: the management
 * tables' plain CRUD goes through MikroORM entities (destinations/destination.entities.ts); every
 * statement goes through the `Sql` executor of @audit/sql (`$n` placeholders, parameters bound),
 * `Database` on the ORM's pool or the delivery worker's own pool (worker-sql-pool.ts). Record sets
 * travel as one JSON parameter (`jsonb_to_recordset`), id lists as PostgreSQL arrays.
 */

/** int8 columns arrive as strings from pg; ids of this service stay far below 2^53. */
export const toNumber = (value: unknown): number => Number(value);

export const toIso = (value: unknown): string => new Date(value as string | Date).toISOString();

export const toIsoOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : toIso(value);
