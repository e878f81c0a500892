import { Migrator } from '@mikro-orm/migrations';
import { MikroORM } from '@mikro-orm/core';
import { MikroOrmModule } from '@mikro-orm/nestjs';
import { PostgreSqlDriver } from '@mikro-orm/postgresql';
import { DynamicModule, Injectable, Logger, Module, OnModuleInit } from '@nestjs/common';
import type { Constructor, MigrationObject } from '@mikro-orm/core';
import { APP_CONFIG, LoadedConfig } from '../config/config';
import { databaseUrl, ensureDatabase } from './ensure-database';

export interface DatabaseOptions {
  entities: Constructor[];
  /** Committed migrations, listed explicitly so they run the same from sources, tests and builds. */
  migrations: MigrationObject[];
}

/** Applies the committed migrations before anything else touches the database or consumes. */
@Injectable()
export class MigrationRunner implements OnModuleInit {
  private readonly logger = new Logger(MigrationRunner.name);
  constructor(private readonly orm: MikroORM) {}

  async onModuleInit(): Promise<void> {
    const applied = await this.orm.getMigrator().up();
    this.logger.log(`migrations applied: ${applied.length} new, schema up to date`);
  }
}

const ormLogger = new Logger('MikroORM');

@Module({})
export class DatabaseModule {
  static forRoot(options: DatabaseOptions): DynamicModule {
    return {
      module: DatabaseModule,
      imports: [
        MikroOrmModule.forRootAsync({
          inject: [APP_CONFIG],
          driver: PostgreSqlDriver,
          useFactory: async (config: LoadedConfig) => {
            await ensureDatabase(config.DATABASE_URL, config.DATABASE_NAME);
            return {
              driver: PostgreSqlDriver,
              clientUrl: databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
              entities: options.entities,
              extensions: [Migrator],
              migrations: { migrationsList: options.migrations, transactional: true, allOrNothing: true, snapshot: false },
              discovery: { warnWhenNoEntities: false },
              pool: { min: 0, max: 10 },
              forceUtcTimezone: true,
              debug: false,
              // MikroORM's own console logger writes coloured text; route it through the JSON logger.
              logger: (message: string) => ormLogger.log(message.replace(/\x1b\[[0-9;]*m/g, '')),
            };
          },
        }),
      ],
      providers: [MigrationRunner],
    };
  }
}
