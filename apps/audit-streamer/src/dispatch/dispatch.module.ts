import { DeliveryMetrics } from './delivery-metrics';
import { Module } from '@nestjs/common';
import { OutcomesModule } from '../outcomes/outcomes.module';
import { DeliverySignal } from './delivery-signal';
import { DeliveryWorker } from './delivery-worker';
import { DestinationSlots } from './destination-slots';
import { DispatchRepository } from './dispatch.repository';
import { SlotsRepository } from './slots.repository';
import { TargetCache } from './target-cache';
import { WebhookSender } from './webhook-sender';
import { WorkerSqlModule } from '../worker-sql-pool';

/**
 * Deliveries → HTTP: the worker (hand-offs from ingest, and the claim of retries and leftovers),
 * the fleet-wide slots of each destination it sends on, the targets it sends to (secrets decrypted
 * once), the guarded, signed POST, and the backoff.
 * Each attempt's outcome goes to OutcomesModule. Exports the worker (ingest hands new deliveries
 * to it) and its wake-up signal (ingest and the delivery log wake it).
 */
@Module({
  imports: [WorkerSqlModule, OutcomesModule],
  providers: [
    DeliverySignal,
    DispatchRepository,
    SlotsRepository,
    DestinationSlots,
    TargetCache,
    WebhookSender,
    DeliveryWorker,
    DeliveryMetrics,
  ],
  exports: [DeliveryWorker, DeliverySignal],
})
export class DispatchModule {}
