import { DynamicModule, Module } from '@nestjs/common';
import { AUDIT_EVENT_TYPES, loadAuditEventTypes } from '@audit/audit-registry';
import { PlatformModule } from '@audit/platform';
import { AuditEventsController } from '../audit-events/audit-events.controller';
import { AuditEventsRepository } from '../audit-events/audit-events.repository';
import { AuditJsonLog } from '../consumer/audit-json-log';
import { RecorderConsumer } from '../consumer/recorder.consumer';
import { migrations } from '../migrations';
import { NamespacesRepository } from '../namespaces/namespaces.repository';
import type { AuditRecorderConfig } from './config';

@Module({})
export class AppModule {
  static forRoot(config: AuditRecorderConfig): DynamicModule {
    // Loaded here, before anything starts: an invalid type definition stops the service at boot.
    const registry = loadAuditEventTypes(config.AUDIT_EVENT_TYPES_DIR);
    return {
      module: AppModule,
      imports: [PlatformModule.forRoot({ serviceName: 'audit-recorder', config, database: { entities: [], migrations } })],
      controllers: [AuditEventsController],
      providers: [
        { provide: AUDIT_EVENT_TYPES, useValue: registry },
        AuditEventsRepository,
        NamespacesRepository,
        AuditJsonLog,
        RecorderConsumer,
      ],
    };
  }
}
