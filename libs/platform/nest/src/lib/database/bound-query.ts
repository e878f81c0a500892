import { EntityManager } from '@mikro-orm/postgresql';

/**
 * One statement with real bound parameters ($1, $2, ... sent apart from the SQL text), in the
 * transaction of `em` when it has one. `em.execute` formats the parameters into the SQL text on
 * the client side instead (escaping a megabyte of JSON per chunk, then PostgreSQL parsing it back),
 * which cost the consumer a third of its CPU in garbage collection. Arrays are sent as PostgreSQL
 * arrays, not expanded; placeholders are knex's `?`, so the SQL must contain no other `?`.
 */
export async function boundQuery<T>(em: EntityManager, sql: string, params: unknown[]): Promise<T[]> {
  const query = em.getKnex().raw(sql, params);
  const trx = em.getTransactionContext();
  if (trx) query.transacting(trx);
  const result: { rows: T[] } = await query;
  return result.rows;
}
