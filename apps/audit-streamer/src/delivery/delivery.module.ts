import { Module } from '@nestjs/common';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { DeliveriesRepository } from './deliveries.repository';
import { DeliverySignal } from './delivery-signal';
import { DeliveryWorker } from './delivery-worker';
import { StreamingConsumer } from './streaming-consumer';
import { WebhookSender } from './webhook-sender';

/** Kafka → deliveries (StreamingConsumer) → HTTP (DeliveryWorker). */
@Module({
  imports: [NamespacesModule],
  providers: [DeliverySignal, DeliveriesRepository, WebhookSender, DeliveryWorker, StreamingConsumer],
})
export class DeliveryModule {}
