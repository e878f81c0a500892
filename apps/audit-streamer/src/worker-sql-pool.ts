import { APP_CONFIG, databaseUrl, LoadedConfig } from '@audit/platform';
import { SqlPool } from '@audit/sql';
import { Inject, Injectable, Module, OnApplicationShutdown } from '@nestjs/common';

/**
 * The delivery worker's own pool ('audit-streamer-worker'), with asynchronous commit. Its writes
 * are leases and attempt outcomes: a lease lost in a database crash simply expires, and a lost
 * "delivered" mark means the event is sent again, which at-least-once delivery (and `webhook-id`)
 * already allows. Waiting for the WAL flush on each of them was the worker's largest wait
 * (bench/streamer.bench.ts). The consumer's inserts of deliveries stay on the ORM's pool
 * (`Database`), synchronous: they precede the offset commit.
 */
@Injectable()
export class WorkerSqlPool extends SqlPool implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: LoadedConfig) {
    super({
      name: 'audit-streamer-worker',
      connectionString: databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
      max: 4,
      sessionOptions: '-c synchronous_commit=off',
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}

/** One worker pool per process, shared by the claim (DispatchModule) and the outcome writes (OutcomesModule). */
@Module({ providers: [WorkerSqlPool], exports: [WorkerSqlPool] })
export class WorkerSqlModule {}
