import { Module } from '@nestjs/common';
import { GroupsModule } from '../groups/groups.module';
import { MilestonesController } from './milestones.controller';
import { MilestonesService } from './milestones.service';

/** A project's milestones: created here, named by releases. */
@Module({
  imports: [GroupsModule],
  controllers: [MilestonesController],
  providers: [MilestonesService],
})
export class MilestonesModule {}
