import { Module } from '@nestjs/common';
import { DestinationsModule } from '../destinations/destinations.module';
import { GroupAccess } from '../destinations/group-access.service';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { AttemptRecorder } from './attempt-recorder';
import { AdminDeliveriesController, GroupDeliveriesController } from './deliveries.controller';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliveryLogRepository } from './delivery-log.repository';
import { DeliveryLogService } from './delivery-log.service';
import { DeliveryOutcomesRepository } from './delivery-outcomes.repository';
import { DeliveryPruner } from './delivery-pruner';
import { DeliverySignal } from './delivery-signal';
import { DeliveryWorker } from './delivery-worker';
import { DestinationDeactivation } from './destination-deactivation';
import { StreamingConsumer } from './streaming-consumer';
import { TargetCache } from './target-cache';
import { WebhookSender } from './webhook-sender';
import { WorkerDatabase } from './worker-database';

/**
 * Kafka → deliveries (StreamingConsumer) → HTTP (DeliveryWorker → AttemptRecorder), plus the
 * delivery log API and its pruning. GroupAccess is the destinations' own access rule, reused as is;
 * deactivation goes through DestinationsService (it records the audit event).
 */
@Module({
  imports: [NamespacesModule, DestinationsModule],
  controllers: [GroupDeliveriesController, AdminDeliveriesController],
  providers: [
    DeliverySignal,
    DeliveriesRepository,
    DeliveryOutcomesRepository,
    DeliveryLogRepository,
    DestinationDeactivation,
    TargetCache,
    WebhookSender,
    AttemptRecorder,
    DeliveryWorker,
    StreamingConsumer,
    DeliveryLogService,
    DeliveryPruner,
    GroupAccess,
    WorkerDatabase,
  ],
})
export class DeliveryModule {}
