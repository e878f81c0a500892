import { DynamicModule, Module } from '@nestjs/common';
import { PlatformModule } from '@audit/platform';
import type { ReleaseServiceConfig } from '../config';
import { EventStoreModule } from '../event-store/event-store.module';
import { GroupsModule } from '../groups/groups.module';
import { GroupEntity, ProjectEntity } from '../groups/namespace.entities';
import { migrations, runtimePrivileges } from '../migrations';
import { MilestoneEntity } from '../milestones/milestone.entity';
import { MilestonesModule } from '../milestones/milestones.module';
import { ReleaseEvidenceEntity, ReleaseEntity, ReleaseLinkEntity } from '../releases/release.entities';
import { ReleasesModule } from '../releases/releases.module';
import type { Clock } from '../request-metadata';

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
            // The read models MikroORM reads; it also runs the migrations.
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
          // Writes go to the outbox, which the relay publishes once Kafka answers: no reason to refuse them.
          kafkaAtBoot: 'optional',
        }),
        // The write side (global): write pool, ids, event store, outbox and relay, command handler.
        EventStoreModule.forRoot(clock),
        GroupsModule,
        MilestonesModule,
        ReleasesModule,
      ],
    };
  }
}
