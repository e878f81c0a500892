import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { AfterCommit, Sql, Transactional } from '@audit/sql';
import type { QueryResultRow } from 'pg';

/** node-postgres's client as knex hands it out. */
interface PgConnection {
  query<T>(text: string, params: unknown[]): Promise<{ rows: T[] }>;
}

interface KnexClient {
  acquireConnection(): Promise<PgConnection>;
  releaseConnection(connection: PgConnection): Promise<void>;
}

/** A transaction of the ORM: statements through `query`, entities through `em`, both in the same transaction. */
export interface OrmTransaction extends Sql {
  em: EntityManager;
}

/**
 * The executor on the ORM's own pool, so that a service has one pool for both: statements with `$n`
 * placeholders and bound parameters go straight to the connection knex holds (its own placeholder
 * translation is not involved), and inside `transaction` they run on the transaction's connection,
 * beside the entity changes of `tx.em`.
 */
@Injectable()
export class Database implements Transactional {
  constructor(private readonly em: EntityManager) {}

  /** Each statement on its own pooled connection, committed by itself. */
  readonly autocommit: Sql = {
    query: <T extends QueryResultRow>(text: string, params: readonly unknown[] = []) =>
      this.run<T>(this.knexClient(), text, params),
    afterCommit: (callback) => callback(),
  };

  /**
   * Runs `work` in one transaction. Entity changes made through `tx.em` are flushed before COMMIT;
   * `tx.afterCommit` callbacks run after it, never after a rollback.
   */
  async transaction<T>(work: (tx: OrmTransaction) => Promise<T>): Promise<T> {
    const afterCommit = new AfterCommit();
    const result = await this.em.fork().transactional(async (em) => {
      const trx = em.getTransactionContext<{ client: KnexClient }>();
      if (!trx) throw new Error('no transaction context');
      const tx: OrmTransaction = {
        em,
        query: <R extends QueryResultRow>(text: string, params: readonly unknown[] = []) =>
          this.run<R>(trx.client, text, params),
        afterCommit: (callback) => afterCommit.add(callback),
      };
      return work(tx);
    });
    afterCommit.run();
    return result;
  }

  private knexClient(): KnexClient {
    return (this.em.getKnex() as unknown as { client: KnexClient }).client;
  }

  private async run<T>(client: KnexClient, text: string, params: readonly unknown[]): Promise<T[]> {
    const connection = await client.acquireConnection();
    try {
      return (await connection.query<T>(text, params as unknown[])).rows;
    } finally {
      await client.releaseConnection(connection);
    }
  }
}
