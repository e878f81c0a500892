import { Module } from '@nestjs/common';
import { GroupsModule } from '../groups/groups.module';
import { ReleaseAssetsController } from './release-assets.controller';
import { ReleasesController } from './releases.controller';
import { ReleasesService } from './releases.service';

/** Releases with their asset links, evidence and recorded downloads. */
@Module({
  imports: [GroupsModule],
  controllers: [ReleasesController, ReleaseAssetsController],
  providers: [ReleasesService],
})
export class ReleasesModule {}
