import { MikroOrmModule } from '@mikro-orm/nestjs';
import { SqlPool } from '@audit/sql';
import { EntityManager, PostgreSqlDriver } from '@mikro-orm/postgresql';
import { DynamicModule, Logger, Module } from '@nestjs/common';
import type { Constructor, MigrationObject } from '@mikro-orm/core';
import { APP_CONFIG, LoadedConfig } from '../config/config';
import { databaseUrl } from './ensure-database';
import { RuntimePrivileges } from './roles';
import { migrateSchema } from './schema-migration';
import { Database } from './database';

export interface DatabaseOptions {
  entities: Constructor[];
  /** Committed migrations, listed explicitly so they run the same from sources, tests and builds. */
  migrations: MigrationObject[];
  /** What the runtime role may not do to its tables (append-only ones). */
  privileges: RuntimePrivileges;
  /** application_name prefix of the service's connections. */
  serviceName?: string;
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
            // Before anything else touches the database or consumes: migrations and grants as the schema owner.
            await migrateSchema({
              ownerUrl: config.DATABASE_MIGRATION_URL,
              runtimeUrl: config.DATABASE_URL,
              database: config.DATABASE_NAME,
              migrations: options.migrations,
              privileges: options.privileges,
            });
            return {
              driver: PostgreSqlDriver,
              clientUrl: databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
              entities: options.entities,
              discovery: { warnWhenNoEntities: false },
              ensureDatabase: false,
              pool: { min: 0, max: 10 },
              forceUtcTimezone: true,
              debug: false,
              // MikroORM's own console logger writes coloured text; route it through the JSON logger.
              logger: (message: string) => ormLogger.log(message.replace(/\x1b\[[0-9;]*m/g, '')),
            };
          },
        }),
      ],
      // The executor on the ORM's pool (statements with bound `$n` parameters, transactions shared with `em`).
      providers: [
        {
          provide: Database,
          inject: [EntityManager, APP_CONFIG],
          useFactory: (em: EntityManager, config: LoadedConfig) =>
            new Database(
              em,
              new SqlPool({
                name: `${options.serviceName ?? 'service'}-statements`,
                connectionString: databaseUrl(config.DATABASE_URL, config.DATABASE_NAME),
                max: 10,
              }),
            ),
        },
      ],
      exports: [Database],
    };
  }
}
