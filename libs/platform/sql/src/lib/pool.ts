import { Pool, PoolClient, PoolConfig, QueryResultRow } from 'pg';
import { AfterCommit, Sql, Transactional } from './sql';

export interface SqlPoolOptions {
  /** Shown as application_name in pg_stat_activity: which path of which service holds a connection. */
  name: string;
  connectionString: string;
  max: number;
  /** `-c setting=value` options of every session, e.g. `-c synchronous_commit=off`. */
  sessionOptions?: string;
  statementTimeoutMs?: number;
}

const executorOf = (client: Pool | PoolClient, afterCommit: (callback: () => void) => void): Sql => ({
  query: async <T extends QueryResultRow>(text: string, params: readonly unknown[] = []) =>
    (await client.query<T>(text, params as unknown[])).rows,
  afterCommit,
});

/**
 * A named pool of its own, for a path whose sessions differ from the rest (the write side's, the
 * delivery worker's with asynchronous commit). `autocommit` runs each statement on its own;
 * `transaction` runs `work` between BEGIN and COMMIT on one connection.
 */
export class SqlPool implements Transactional {
  private readonly pool: Pool;

  constructor(options: SqlPoolOptions) {
    const config: PoolConfig = {
      connectionString: options.connectionString,
      max: options.max,
      application_name: options.name,
    };
    if (options.sessionOptions) config.options = options.sessionOptions;
    if (options.statementTimeoutMs) config.statement_timeout = options.statementTimeoutMs;
    this.pool = new Pool(config);
    // An idle client's error (a server restart) must not crash the process; the next checkout reconnects.
    this.pool.on('error', () => undefined);
    this.autocommit = executorOf(this.pool, (callback) => callback());
  }

  /** One statement at a time, each committed by itself: no BEGIN/COMMIT round trips. */
  readonly autocommit: Sql;

  async transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    const afterCommit = new AfterCommit();
    try {
      await client.query('begin');
      const result = await work(executorOf(client, (callback) => afterCommit.add(callback)));
      await client.query('commit');
      afterCommit.run();
      return result;
    } catch (err) {
      await client.query('rollback').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }
}
