import { OutboxRelay } from '@audit/outbox';
import { Module } from '@nestjs/common';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { DestinationChanges } from './destination-changes';
import { DestinationHeadersService } from './destination-headers.service';
import { DestinationsController, InstanceDestinationsController } from './destinations.controller';
import { DestinationsRepository } from './destinations.repository';
import { DestinationsService } from './destinations.service';
import { GroupAccess } from './group-access.service';
import { DestinationUrlCheck } from './url-check.service';

/**
 * Management of streaming destinations. Exports what the delivery side needs: DestinationsService
 * (`deactivate`) and DestinationsRepository (`signingSecretsFor`). The outbox relay lives here because
 * configuration changes are this service's only domain events; there must be one relay per process.
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
  ],
  exports: [DestinationsService, DestinationHeadersService, GroupAccess, DestinationsRepository, OutboxRelay],
})
export class DestinationsModule {}
