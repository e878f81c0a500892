import { Module } from '@nestjs/common';
import { NamespacesModule } from '@audit/namespaces';
import { Outbox, OutboxRelay } from '@audit/outbox';
import { APP_CONFIG } from '@audit/platform';
import type { AuditRecorderConfig } from '../config';
import { AuditEventsExportController } from './audit-events-export.controller';
import { AuditEventsExportService } from './audit-events-export.service';
import { AuditEventsController } from './audit-events.controller';
import { AuditEventsRepository } from './audit-events.repository';
import { AuditScopeResolver } from './audit-scope.resolver';
import { ExportSlots } from './export-slots';

/**
 * The audit log's read side: the list and single-event routes, the CSV exports with their caps, and
 * the storage of audit events (whose insert the consumer uses). Exports are audit events themselves,
 * written through this service's outbox, so its relay lives here.
 */
@Module({
  imports: [NamespacesModule],
  // The export controller first: its `audit_events/export.csv` must win over `audit_events/:event_id`.
  controllers: [AuditEventsExportController, AuditEventsController],
  providers: [
    AuditEventsRepository,
    AuditScopeResolver,
    AuditEventsExportService,
    {
      provide: ExportSlots,
      inject: [APP_CONFIG],
      useFactory: (config: AuditRecorderConfig) =>
        new ExportSlots(config.EXPORT_MAX_CONCURRENT, config.EXPORT_MAX_CONCURRENT_PER_USER),
    },
    OutboxRelay,
    Outbox,
  ],
  exports: [AuditEventsRepository, Outbox],
})
export class AuditEventsModule {}
