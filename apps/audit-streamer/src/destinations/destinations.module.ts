import { Module } from '@nestjs/common';
import { NamespacesModule } from '../namespaces/namespaces.module';
import { DestinationsController } from './destinations.controller';
import { DestinationsRepository } from './destinations.repository';
import { DestinationsService } from './destinations.service';
import { GroupAccess } from './group-access.service';
import { DestinationUrlCheck } from './url-check.service';

@Module({
  imports: [NamespacesModule],
  controllers: [DestinationsController],
  providers: [DestinationsService, DestinationsRepository, GroupAccess, DestinationUrlCheck],
})
export class DestinationsModule {}
