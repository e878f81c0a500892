import { Module } from '@nestjs/common';
import { AuditEventsModule } from '../audit-events/audit-events.module';
import { ChainWriter } from './chain-writer';
import { Checkpointer } from './checkpointer';
import { IntegrityController } from './integrity.controller';
import { IntegrityRepository } from './integrity.repository';
import { Retention } from './retention';
import { VerificationService } from './verification.service';

/**
 * The audit log's integrity and retention (docs/architecture.md, "Integrity" and "Retention"): the hash chains
 * the consumer appends to, the checkpoints that sign them, the partitions and the purge, and the routes that
 * serve checkpoints and verify.
 */
@Module({
  imports: [AuditEventsModule],
  controllers: [IntegrityController],
  providers: [ChainWriter, IntegrityRepository, Checkpointer, Retention, VerificationService],
  exports: [ChainWriter, Checkpointer, Retention, VerificationService],
})
export class IntegrityModule {}
