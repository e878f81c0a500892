import { DynamicModule, Module } from '@nestjs/common';
import { NamespacesModule } from '@audit/namespaces';
import { PlatformModule } from '@audit/platform';
import { AuditEventsModule } from '../audit-events/audit-events.module';
import type { AuditRecorderConfig } from '../config';
import { RecorderConsumerModule } from '../consumer/recorder-consumer.module';
import { IntegrityModule } from '../integrity/integrity.module';
import { migrations, runtimePrivileges } from '../migrations';

@Module({})
export class AppModule {
  static forRoot(config: AuditRecorderConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          serviceName: 'audit-recorder',
          config,
          database: { entities: [], migrations, privileges: runtimePrivileges },
        }),
        // Checkpoints and verification: first, so that `audit_events/verify` is not taken for an event id.
        IntegrityModule,
        // The query API and the exports.
        AuditEventsModule,
        // The namespaces read model: the consumer writes it, the scope resolver reads it.
        NamespacesModule,
        // The consumer: a @ChunkPattern controller, run by the Kafka transport connected in main.ts. Its
        // registry of audit event types loads at boot, so an invalid type definition stops the service.
        RecorderConsumerModule,
      ],
    };
  }
}
