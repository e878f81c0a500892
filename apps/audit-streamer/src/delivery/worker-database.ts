import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { Pool, QueryResultRow } from 'pg';
import { APP_CONFIG, databaseUrl, LoadedConfig } from '@audit/platform';

/**
 * The delivery worker's own pool, with asynchronous commit. Its writes are leases and attempt
 * outcomes: a lease lost in a database crash simply expires, and a lost "delivered" mark means the
 * event is sent again, which at-least-once delivery (and `webhook-id`) already allows. Waiting for
 * the WAL flush on each of them was the worker's largest wait (bench/streamer.bench.ts). The
 * consumer's inserts of deliveries stay on the ORM's pool, synchronous: they precede the offset commit.
 * Plain `pg` with `$n` parameters: the ORM's `execute` inlines parameters into the SQL text.
 */
@Injectable()
export class WorkerDatabase implements OnApplicationShutdown {
  private readonly pool: Pool;

  constructor(@Inject(APP_CONFIG) config: LoadedConfig) {
    this.pool = new Pool({
      connectionString: databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
      max: 4,
      application_name: 'audit-streamer-worker',
      options: '-c synchronous_commit=off',
    });
    this.pool.on('error', () => undefined); // an idle client's error must not crash the process; the next query reconnects
  }

  async query<T extends QueryResultRow>(text: string, params: unknown[]): Promise<T[]> {
    return (await this.pool.query<T>(text, params)).rows;
  }

  async onApplicationShutdown(): Promise<void> {
    await this.pool.end();
  }
}
