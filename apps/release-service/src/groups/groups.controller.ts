import { Body, Controller, HttpCode, Inject, Post } from '@nestjs/common';
import type { Request } from 'express';
import { APP_CONFIG, CurrentPrincipal, parseInput, Principal, Req } from '@audit/platform';
import { z } from 'zod';
import type { ReleaseServiceConfig } from '../app/config';
import { CLOCK, Clock, commandMetadata } from '../app/request-metadata';
import { NamespacesService } from './namespaces.service';

const path = z.string().min(1).max(255).regex(/^[a-zA-Z0-9_][a-zA-Z0-9_.-]*$/, 'may contain only letters, digits, _, - and .').refine((p) => !p.endsWith('.git') && !p.endsWith('.'), 'must not end in .git or .');
const name = z.string().trim().min(1).max(255);
const CreateGroupBody = z.object({ path, name, parent_id: z.number().int().positive().optional() }).strict();
const CreateProjectBody = z.object({ path, name, namespace_id: z.number().int().positive() }).strict();

@Controller('api/v4')
export class GroupsController {
  constructor(
    private readonly namespaces: NamespacesService,
    @Inject(CLOCK) private readonly clock: Clock,
    @Inject(APP_CONFIG) private readonly config: ReleaseServiceConfig,
  ) {}

  @Post('groups')
  @HttpCode(201)
  async createGroup(@Body() body: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const input = parseInput(CreateGroupBody, body);
    const g = await this.namespaces.createGroup(input, principal, commandMetadata(req, principal, this.clock, this.config));
    return { id: g.id, path: g.path, name: g.name, full_path: g.fullPath, parent_id: g.parentId, created_at: g.createdAt.toISOString() };
  }

  @Post('projects')
  @HttpCode(201)
  async createProject(@Body() body: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const input = parseInput(CreateProjectBody, body);
    const p = await this.namespaces.createProject(input, principal, commandMetadata(req, principal, this.clock, this.config));
    return { id: p.id, path: p.path, name: p.name, path_with_namespace: p.fullPath, namespace_id: p.namespaceId, created_at: p.createdAt.toISOString() };
  }
}
