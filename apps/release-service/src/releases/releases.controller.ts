import { Body, Controller, Delete, Get, HttpCode, Param, Post, Put, Query, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, ApiZodQuery, CurrentPrincipal, linkNext, parseInput, Principal, Req } from '@audit/platform';
import { CommandMetadataFactory } from '../request-metadata';
import { NamespacesService } from '../groups/namespaces.service';
import { CreateReleaseBody, PageQuery, UpdateReleaseBody } from './release.schemas';
import { releaseView } from './release.views';
import { ReleasesService } from './releases.service';

/**
 * The release API. Permissions: reading needs reporter, writing developer, deleting maintainer
 * (a role on a group holds for everything under it). `:id` is a numeric id or a URL-encoded path.
 */
@ApiTags('releases')
@Controller('api/v4/projects/:id/releases')
export class ReleasesController {
  constructor(
    private readonly namespaces: NamespacesService,
    private readonly releases: ReleasesService,
    private readonly metadata: CommandMetadataFactory,
  ) {}

  @Post()
  @HttpCode(201)
  @ApiZodBody(CreateReleaseBody)
  async create(
    @Param('id') id: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const input = parseInput(CreateReleaseBody, body);
    return releaseView(await this.releases.create(project, input, this.metadata.of(req, principal)));
  }

  /** Newest first; `per_page` (max 100) and `page`, with the next page in a `Link` header. */
  @Get()
  @ApiZodQuery(PageQuery)
  async list(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    const page = parseInput(PageQuery, query, 'query');
    const found = await this.releases.list(project, {
      perPage: page.per_page + 1,
      page: page.page,
      offsetPerPage: page.per_page,
    });
    if (found.length > page.per_page)
      linkNext(req, res, { page: String(page.page + 1), per_page: String(page.per_page) });
    return found.slice(0, page.per_page).map(releaseView);
  }

  @Get(':tag_name')
  async get(@Param('id') id: string, @Param('tag_name') tag: string, @CurrentPrincipal() principal: Principal) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    return releaseView(await this.releases.get(project, tag));
  }

  /** Changes only what differs; an update that changes nothing records nothing. */
  @Put(':tag_name')
  @ApiZodBody(UpdateReleaseBody)
  async update(
    @Param('id') id: string,
    @Param('tag_name') tag: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const input = parseInput(UpdateReleaseBody, body);
    return releaseView(await this.releases.update(project, tag, input, this.metadata.of(req, principal)));
  }

  /** The release leaves the read model; its stream keeps it, and its tag can be used again. */
  @Delete(':tag_name')
  async delete(
    @Param('id') id: string,
    @Param('tag_name') tag: string,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'maintainer');
    return releaseView(await this.releases.delete(project, tag, this.metadata.of(req, principal)));
  }
}
