import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@audit/platform';
import { EventStore } from '../event-store/event-store.service';
import { IdAllocator } from '../event-store/id-allocator';
import { WriteDatabase } from '../event-store/write-database';
import { GroupsController } from '../groups/groups.controller';
import { GroupEntity, ProjectEntity } from '../groups/namespace.entities';
import { NamespacesService } from '../groups/namespaces.service';
import { migrations, runtimePrivileges } from '../migrations';
import { MilestoneEntity } from '../milestones/milestone.entity';
import { MilestonesController } from '../milestones/milestones.controller';
import { MilestonesService } from '../milestones/milestones.service';
import { OutboxRelay } from '@audit/outbox';
import { ReleaseAssetsController } from '../releases/release-assets.controller';
import { ReleaseEntity, ReleaseEvidenceEntity, ReleaseLinkEntity } from '../releases/release.entities';
import { ReleasesController } from '../releases/releases.controller';
import { ReleasesService } from '../releases/releases.service';
import type { ReleaseServiceConfig } from './config';
import { Clock, CLOCK, CommandMetadataFactory } from './request-metadata';

@Module({})
export class AppModule {
  /** `clock` is injectable so tests can pin `occurred_at`; production reads the system time. */
  static forRoot(config: ReleaseServiceConfig, clock: Clock = () => new Date()): DynamicModule {
    return {
      module: AppModule,
      imports: [
        PlatformModule.forRoot({
          serviceName: 'release-service',
          config,
          database: {
            entities: [
              GroupEntity,
              ProjectEntity,
              MilestoneEntity,
              ReleaseEntity,
              ReleaseLinkEntity,
              ReleaseEvidenceEntity,
            ],
            migrations,
            privileges: runtimePrivileges,
          },
        }),
      ],
      controllers: [GroupsController, MilestonesController, ReleasesController, ReleaseAssetsController],
      providers: [
        { provide: CLOCK, useValue: clock },
        CommandMetadataFactory,
        WriteDatabase,
        IdAllocator,
        EventStore,
        OutboxRelay,
        NamespacesService,
        ReleasesService,
        MilestonesService,
      ],
    };
  }
}
