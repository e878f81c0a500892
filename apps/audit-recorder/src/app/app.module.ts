import { DynamicModule, Module } from '@nestjs/common';
import { AUDIT_EVENT_TYPES, loadAuditEventTypes } from '@audit/audit-registry';
import { NamespacesModule } from '@audit/namespaces';
import { PlatformModule } from '@audit/platform';
import { AuditEventsModule } from '../audit-events/audit-events.module';
import type { AuditRecorderConfig } from '../config';
import { AuditJsonLog } from '../consumer/audit-json-log';
import { RecorderConsumer } from '../consumer/recorder.consumer';
import { migrations, runtimePrivileges } from '../migrations';

@Module({})
export class AppModule {
  static forRoot(config: AuditRecorderConfig): DynamicModule {
    // Loaded here, before anything starts: an invalid type definition stops the service at boot.
    const registry = loadAuditEventTypes(config.AUDIT_EVENT_TYPES_DIR);
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          serviceName: 'audit-recorder',
          config,
          database: { entities: [], migrations, privileges: runtimePrivileges },
        }),
        // The query API and the exports; AuditEventsRepository exported for the consumer.
        AuditEventsModule,
        // The namespaces read model: the consumer writes it, the scope resolver reads it.
        NamespacesModule,
      ],
      // The consumer (its wiring belongs to the consumer, kept here until it has a module of its own).
      providers: [{ provide: AUDIT_EVENT_TYPES, useValue: registry }, AuditJsonLog, RecorderConsumer],
    };
  }
}
