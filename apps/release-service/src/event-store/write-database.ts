import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, databaseUrl } from '@audit/platform';
import { SqlPool } from '@audit/sql';
import type { ReleaseServiceConfig } from '../config';

/**
 * The write side's own pool ('release-service-writes'), plain `pg` behind the `Sql` executor:
 * commands are a handful of statements whose cost is dominated by round trips, and the ORM's unit
 * of work added ~0.5 ms of CPU per command on the hot path (measured by bench/release-service.bench.ts).
 * Reads of the read models keep using MikroORM entities on the ORM's pool.
 */
@Injectable()
export class WriteDatabase extends SqlPool implements OnApplicationShutdown {
  constructor(@Inject(APP_CONFIG) config: ReleaseServiceConfig) {
    super({
      name: 'release-service-writes',
      connectionString: databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
      max: config.WRITE_POOL_SIZE,
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.close();
  }
}
