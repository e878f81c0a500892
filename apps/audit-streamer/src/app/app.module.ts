import { AUDIT_EVENT_TYPES, AuditEventTypeRegistry, loadAuditEventTypes } from '@audit/audit-registry';
import { APP_CONFIG, PlatformModule } from '@audit/platform';
import { DynamicModule, Global, Inject, Logger, Module, OnModuleInit } from '@nestjs/common';
import { SecretBox } from '../crypto/secret-box';
import { DeliveryLogModule } from '../delivery-log/delivery-log.module';
import { DispatchModule } from '../dispatch/dispatch.module';
import { STREAMER_ENTITIES } from '../destinations/destination.entities';
import { DestinationsModule } from '../destinations/destinations.module';
import { StreamingGraphqlModule } from '../graphql/graphql.module';
import { IngestModule } from '../ingest/ingest.module';
import { migrations, runtimePrivileges } from '../migrations';
import { OutcomesModule } from '../outcomes/outcomes.module';
import { AuditStreamerConfig } from '../config';

/** What several features share and config decides: the audit event types and the key of secrets at rest. */
@Global()
@Module({})
class StreamerCoreModule implements OnModuleInit {
  constructor(@Inject(APP_CONFIG) private readonly config: AuditStreamerConfig) {}

  onModuleInit(): void {
    if (this.config.usingDevelopmentEncryptionKey) {
      new Logger('audit-streamer').warn(
        'ENCRYPTION_KEY is not set: secrets at rest are encrypted with the built-in DEVELOPMENT key. Never run like this in production.',
      );
    }
  }

  static forRoot(config: AuditStreamerConfig, registry: AuditEventTypeRegistry): DynamicModule {
    return {
      module: StreamerCoreModule,
      providers: [
        { provide: AUDIT_EVENT_TYPES, useValue: registry },
        { provide: SecretBox, useValue: new SecretBox(config.encryptionKey) },
      ],
      exports: [AUDIT_EVENT_TYPES, SecretBox],
    };
  }
}

@Module({})
export class AppModule {
  /** Loads the audit event types first: an invalid definition stops the service before it starts. */
  static forRoot(config: AuditStreamerConfig): DynamicModule {
    const registry = loadAuditEventTypes(config.AUDIT_EVENT_TYPES_DIR);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          serviceName: 'audit-streamer',
          config,
          database: { entities: STREAMER_ENTITIES, migrations, privileges: runtimePrivileges },
        }),
        StreamerCoreModule.forRoot(config, registry),
        DestinationsModule,
        IngestModule,
        DispatchModule,
        OutcomesModule,
        DeliveryLogModule,
        StreamingGraphqlModule,
      ],
    };
  }
}
