import { Body, Controller, Delete, Get, HttpCode, Param, Post, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { ApiTags } from '@nestjs/swagger';
import { ApiZodBody, CurrentPrincipal, parseInput, Principal, Req } from '@audit/platform';
import { CommandMetadataFactory } from '../request-metadata';
import { NamespacesService } from '../groups/namespaces.service';
import { CreateLinkBody, LinkParams } from './release.schemas';
import { evidenceView, linkView } from './release.views';
import { ReleasesService } from './releases.service';

/** Evidence, asset links and recorded downloads of one release. */
@ApiTags('releases')
@Controller('api/v4/projects/:id/releases/:tag_name')
export class ReleaseAssetsController {
  constructor(
    private readonly namespaces: NamespacesService,
    private readonly releases: ReleasesService,
    private readonly metadata: CommandMetadataFactory,
  ) {}

  /** Fingerprints the release as it is now (sha256), recorded as an event. */
  @Post('evidence')
  @HttpCode(201)
  async collectEvidence(
    @Param('id') id: string,
    @Param('tag_name') tag: string,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    return evidenceView(await this.releases.collectEvidence(project, tag, this.metadata.of(req, principal)));
  }

  @Get('assets/links')
  async listLinks(@Param('id') id: string, @Param('tag_name') tag: string, @CurrentPrincipal() principal: Principal) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    return (await this.releases.get(project, tag)).links.map(linkView);
  }

  @Post('assets/links')
  @HttpCode(201)
  @ApiZodBody(CreateLinkBody)
  async addLink(
    @Param('id') id: string,
    @Param('tag_name') tag: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const input = parseInput(CreateLinkBody, body);
    return linkView(await this.releases.addLink(project, tag, input, this.metadata.of(req, principal)));
  }

  @Delete('assets/links/:link_id')
  async removeLink(
    @Param('id') id: string,
    @Param('tag_name') tag: string,
    @Param() params: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'developer');
    const { link_id } = parseInput(LinkParams, params, 'path');
    return linkView(await this.releases.removeLink(project, tag, link_id, this.metadata.of(req, principal)));
  }

  /** Records who downloaded which asset from where (a streaming-only audit event), then redirects to it. */
  @Get('downloads/:link_id')
  async download(
    @Param('id') id: string,
    @Param('tag_name') tag: string,
    @Param() params: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ) {
    const project = await this.namespaces.findProject(id, principal, 'reporter');
    const { link_id } = parseInput(LinkParams, params, 'path');
    const link = await this.releases.recordDownload(project, tag, link_id, this.metadata.of(req, principal));
    res.status(302).location(link.url).json(linkView(link));
  }
}
