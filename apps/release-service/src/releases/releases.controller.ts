import { Body, Controller, Get, HttpCode, Inject, Param, Post } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, CurrentPrincipal, parseInput, Principal, Req } from '@audit/platform';
import { z } from 'zod';
import type { ReleaseServiceConfig } from '../app/config';
import { CLOCK, Clock, commandMetadata } from '../app/request-metadata';
import { NamespacesService } from '../groups/namespaces.service';
import { MilestonesService } from './milestones.service';
import { MilestoneEntity, ReleaseEntity } from './release.entities';
import { ReleasesService } from './releases.service';

const title = z.string().trim().min(1).max(255);
const CreateReleaseBody = z
  .object({
    tag_name: z.string().min(1, 'must not be empty').max(255).refine((t) => !/[\s~^:?*[\\]|\.\.|^\/|\/$/.test(t), 'is not a valid tag name'),
    name: z.string().trim().min(1).max(255).optional(),
    description: z.string().max(1_000_000).nullable().optional(),
    milestones: z.array(title).max(100).refine((m) => new Set(m).size === m.length, 'must not repeat a milestone').optional(),
  })
  .strict();
const CreateMilestoneBody = z.object({ title }).strict();

const releaseView = (r: ReleaseEntity) => ({
  id: r.id,
  tag_name: r.tagName,
  name: r.name,
  description: r.description,
  milestones: r.milestones.map((t) => ({ title: t })),
  created_at: r.createdAt.toISOString(),
  updated_at: r.updatedAt.toISOString(),
});
const milestoneView = (m: MilestoneEntity) => ({ id: m.id, project_id: m.projectId, title: m.title, created_at: m.createdAt.toISOString() });

@Controller('api/v4/projects/:id')
export class ReleasesController {
  constructor(
    private readonly namespaces: NamespacesService,
    private readonly releases: ReleasesService,
    private readonly milestones: MilestonesService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: ReleaseServiceConfig,
  ) {}

  @Post('releases')
  @HttpCode(201)
  async create(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const input = parseInput(CreateReleaseBody, body);
    const release = await this.releases.create(project, input, commandMetadata(req, principal, this.clock, this.config));
    return releaseView(release);
  }

  @Get('releases')
  async list(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    return (await this.releases.list(project)).map(releaseView);
  }

  @Post('milestones')
  @HttpCode(201)
  async createMilestone(@Param('id') id: string, @Body() body: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const input = parseInput(CreateMilestoneBody, body);
    return milestoneView(await this.milestones.create(project, input.title, commandMetadata(req, principal, this.clock, this.config)));
  }

  @Get('milestones')
  async listMilestones(@Param('id') id: string, @CurrentPrincipal() principal: Principal) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    return (await this.milestones.list(project)).map(milestoneView);
  }
}
