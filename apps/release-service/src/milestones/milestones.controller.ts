import { Body, Controller, Get, HttpCode, Param, Post } from '@nestjs/common';
import type { Request } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, CurrentPrincipal, parseInput, Principal, Req } from '@audit/platform';
import { CommandMetadataFactory } from '../request-metadata';
import { NamespacesService } from '../groups/namespaces.service';
import { CreateMilestoneBody } from './milestone.schemas';
import { Milestone } from './milestone.entity';
import { MilestonesService } from './milestones.service';

const milestoneView = (m: Milestone) => ({
  id: m.id,
  project_id: m.projectId,
  title: m.title,
  created_at: m.createdAt.toISOString(),
});

@ApiTags('milestones')
@Controller('api/v4/projects/:id/milestones')
export class MilestonesController {
  constructor(
    private readonly namespaces: NamespacesService,
    private readonly milestones: MilestonesService,
    private readonly metadata: CommandMetadataFactory,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiZodBody(CreateMilestoneBody)
  async create(
    @Param('id') id: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const input = parseInput(CreateMilestoneBody, body);
    return milestoneView(await this.milestones.create(project, input.title, this.metadata.of(req, principal)));
  }

  @Get()
  async list(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    return (await this.milestones.list(project)).map(milestoneView);
  }
}
