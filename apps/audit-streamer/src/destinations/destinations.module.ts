import { NamespacesModule } from '@audit/namespaces';
import { Outbox, OutboxRelay } from '@audit/outbox';
import { Module } from '@nestjs/common';
import { DestinationChanges } from './destination-changes';
import { DestinationHeadersService } from './destination-headers.service';
import { DestinationsController, InstanceDestinationsController } from './destinations.controller';
import { DestinationsRepository } from './destinations.repository';
import { DestinationsService } from './destinations.service';
import { GroupAccess } from './group-access.service';
import { DestinationUrlCheck } from './url-check.service';

/**
 * Management of streaming destinations. Exports what the other features need: DestinationsService
 * (`deactivate`, `destinationOf`), GroupAccess, and, for GraphQL, DestinationHeadersService and
 * DestinationsRepository. The outbox (Outbox and its relay) lives here because configuration
 * changes are this service's only domain events; there must be one relay per process.
 */
@Module({
  imports: [NamespacesModule],
  controllers: [DestinationsController, InstanceDestinationsController],
  providers: [
    DestinationsService,
    DestinationHeadersService,
    DestinationsRepository,
    DestinationChanges,
    GroupAccess,
    DestinationUrlCheck,
    OutboxRelay,
    Outbox,
  ],
  exports: [DestinationsService, DestinationHeadersService, GroupAccess, DestinationsRepository],
})
export class DestinationsModule {}
