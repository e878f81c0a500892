import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import type { Request } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, CurrentPrincipal, parseInput, Principal, Req } from '@audit/platform';
import { CommandMetadataFactory } from '../request-metadata';
import { CreateGroupBody, CreateProjectBody } from './namespace.schemas';
import { NamespacesService } from './namespaces.service';

@ApiTags('groups and projects')
@Controller('api/v4')
export class GroupsController {
  constructor(
    private readonly namespaces: NamespacesService,
    private readonly metadata: CommandMetadataFactory,
  ) {}

  /** A top-level group needs an administrator; a subgroup needs the owner role on its parent. */
  @Post('groups')
  @HttpCode(201)
  @ApiZodBody(CreateGroupBody)
  async createGroup(@Body() body: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const input = parseInput(CreateGroupBody, body);
    const g = await this.namespaces.createGroup(input, principal, this.metadata.of(req, principal));
    return {
      id: g.id,
      path: g.path,
      name: g.name,
      full_path: g.fullPath,
      parent_id: g.parentId,
      created_at: g.createdAt.toISOString(),
    };
  }

  /** Needs the owner role on the group the project goes into. */
  @Post('projects')
  @HttpCode(201)
  @ApiZodBody(CreateProjectBody)
  async createProject(@Body() body: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request) {
    const input = parseInput(CreateProjectBody, body);
    const p = await this.namespaces.createProject(input, principal, this.metadata.of(req, principal));
    return {
      id: p.id,
      path: p.path,
      name: p.name,
      path_with_namespace: p.fullPath,
      namespace_id: p.namespaceId,
      created_at: p.createdAt.toISOString(),
    };
  }
}
