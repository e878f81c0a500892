import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@audit/platform';
import { EventStore } from '../event-store/event-store.service';
import { GroupEntity, ProjectEntity } from '../groups/namespace.entities';
import { GroupsController } from '../groups/groups.controller';
import { NamespacesService } from '../groups/namespaces.service';
import { migrations } from '../migrations';
import { OutboxRelay } from '../outbox/outbox-relay.service';
import { MilestonesService } from '../releases/milestones.service';
import { MilestoneEntity, ReleaseEntity } from '../releases/release.entities';
import { ReleasesController } from '../releases/releases.controller';
import { ReleasesService } from '../releases/releases.service';
import type { ReleaseServiceConfig } from './config';
import { CLOCK } from './request-metadata';

@Module({})
export class AppModule {
  static forRoot(config: ReleaseServiceConfig): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          serviceName: 'release-service',
          config,
          database: { entities: [GroupEntity, ProjectEntity, MilestoneEntity, ReleaseEntity], migrations },
        }),
      ],
      controllers: [GroupsController, ReleasesController],
      providers: [{ provide: CLOCK, useValue: () => new Date() }, EventStore, OutboxRelay, NamespacesService, ReleasesService, MilestonesService],
    };
  }
}
