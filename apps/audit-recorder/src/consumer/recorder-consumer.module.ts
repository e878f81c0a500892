import { Module } from '@nestjs/common';
import { AUDIT_EVENT_TYPES, loadAuditEventTypes } from '@audit/audit-registry';
import { NamespacesModule } from '@audit/namespaces';
import { APP_CONFIG } from '@audit/platform';
import { AuditEventsModule } from '../audit-events/audit-events.module';
import { IntegrityModule } from '../integrity/integrity.module';
import type { AuditRecorderConfig } from '../config';
import { AuditJsonLog } from './audit-json-log';
import { LogFilesRepository } from './log-files.repository';
import { RecorderConsumer } from './recorder.consumer';

/**
 * The recorder's consumer: the `@ChunkPattern` controller run by `KafkaChunkTransport` (connected in
 * main.ts, see `recorderTransport`), the JSON log it appends to, and the event type registry it filters
 * with. Static, so importing it from more than one module registers the controller once.
 */
@Module({
  imports: [AuditEventsModule, NamespacesModule, IntegrityModule],
  controllers: [RecorderConsumer],
  providers: [
    {
      provide: AUDIT_EVENT_TYPES,
      inject: [APP_CONFIG],
      useFactory: (config: AuditRecorderConfig) => loadAuditEventTypes(config.AUDIT_EVENT_TYPES_DIR),
    },
    AuditJsonLog,
    LogFilesRepository,
  ],
})
export class RecorderConsumerModule {}
