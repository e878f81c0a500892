import { DynamicModule, Module } from '@nestjs/common';
import { AUDIT_EVENT_TYPES, loadAuditEventTypes } from '@audit/audit-registry';
import { OutboxRelay } from '@audit/outbox';
import { PlatformModule } from '@audit/platform';
import { AuditEventsExportController } from '../audit-events/audit-events-export.controller';
import { AuditEventsExportService } from '../audit-events/audit-events-export.service';
import { AuditEventsController } from '../audit-events/audit-events.controller';
import { AuditEventsRepository } from '../audit-events/audit-events.repository';
import { AuditScopeResolver } from '../audit-events/audit-scope.resolver';
import { AuditJsonLog } from '../consumer/audit-json-log';
import { RecorderConsumer } from '../consumer/recorder.consumer';
import { migrations, runtimePrivileges } from '../migrations';
import { NamespacesRepository } from '../namespaces/namespaces.repository';
import type { AuditRecorderConfig } from './config';

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
      ],
      // The export controller first: its `audit_events/export.csv` must win over `audit_events/:event_id`.
      controllers: [AuditEventsExportController, AuditEventsController],
      providers: [
        { provide: AUDIT_EVENT_TYPES, useValue: registry },
        AuditEventsRepository,
        AuditEventsExportService,
        AuditScopeResolver,
        NamespacesRepository,
        AuditJsonLog,
        RecorderConsumer,
        OutboxRelay,
      ],
    };
  }
}
