import { Module } from '@nestjs/common';
import { DestinationsModule } from '../destinations/destinations.module';
import { DispatchModule } from '../dispatch/dispatch.module';
import { AdminDeliveriesController, GroupDeliveriesController } from './deliveries.controller';
import { DeliveryLogRepository } from './delivery-log.repository';
import { DeliveryLogService } from './delivery-log.service';
import { DeliveryPruner } from './delivery-pruner';

/**
 * The delivery log API (list, retry, replay) of a destination, with the destinations' own access
 * rules (GroupAccess, DestinationsService), and the pruning of delivered records. A retry or a
 * replay wakes the worker (DispatchModule's signal).
 */
@Module({
  imports: [DestinationsModule, DispatchModule],
  controllers: [GroupDeliveriesController, AdminDeliveriesController],
  providers: [DeliveryLogRepository, DeliveryLogService, DeliveryPruner],
})
export class DeliveryLogModule {}
