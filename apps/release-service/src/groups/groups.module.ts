import { Module } from '@nestjs/common';
import { GroupsController } from './groups.controller';
import { NamespacesService } from './namespaces.service';

/** Groups and projects: their creation, and the project lookup (with the caller's role) every project route starts with. */
@Module({
  controllers: [GroupsController],
  providers: [NamespacesService],
  exports: [NamespacesService],
})
export class GroupsModule {}
