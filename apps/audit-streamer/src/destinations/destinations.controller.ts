import { CommandMetadata } from '@audit/contracts';
import {
  ApiZodBody,
  APP_CONFIG,
  clientIp,
  correlationId,
  CurrentPrincipal,
  parseInput,
  Principal,
  Req,
} from '@audit/platform';
import { Body, Controller, Delete, Get, HttpCode, Inject, Param, Patch, Post, Put } from '@nestjs/common';
import type { Request } from 'express';
import { AuditStreamerConfig } from '../config';
import { DestinationHeadersService } from './destination-headers.service';
import {
  CreateDestinationSchema,
  CreateHeaderSchema,
  UpdateDestinationSchema,
  UpdateHeaderSchema,
} from './destination.schemas';
import { DestinationsService } from './destinations.service';
import { DestinationOwner, GroupAccess } from './group-access.service';

/**
 * The routes of docs/contracts.md (audit-streamer), once: the group-level and the instance-level controllers
 * below differ only in their prefix and in who may use them (`owner`). The delivery log and replay
 * routes under the same prefixes are the delivery log's (delivery-log/deliveries.controller.ts).
 */
abstract class DestinationRoutes {
  constructor(
    protected readonly access: GroupAccess,
    private readonly destinations: DestinationsService,
    private readonly headers: DestinationHeadersService,
    private readonly config: AuditStreamerConfig,
  ) {}

  /** Whose destinations: the top-level group `id` (owners), or the instance (admins); throws otherwise. */
  protected abstract owner(id: string | undefined, principal: Principal): Promise<DestinationOwner>;

  @Post()
  @ApiZodBody(CreateDestinationSchema)
  async create(
    @Param('id') id: string | undefined,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const owner = await this.owner(id, principal);
    return this.destinations.create(owner, parseInput(CreateDestinationSchema, body), this.meta(principal, req));
  }

  @Get()
  async list(@Param('id') id: string | undefined, @CurrentPrincipal() principal: Principal) {
    return this.destinations.list(await this.owner(id, principal));
  }

  @Get(':destination_id')
  async get(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @CurrentPrincipal() principal: Principal,
  ) {
    return this.destinations.get(await this.owner(id, principal), destinationId);
  }

  @Patch(':destination_id')
  @ApiZodBody(UpdateDestinationSchema)
  async update(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const owner = await this.owner(id, principal);
    return this.destinations.update(
      owner,
      destinationId,
      parseInput(UpdateDestinationSchema, body),
      this.meta(principal, req),
    );
  }

  @Delete(':destination_id')
  @HttpCode(204)
  async remove(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    await this.destinations.remove(await this.owner(id, principal), destinationId, this.meta(principal, req));
  }

  @Post(':destination_id/signing_secret/rotate')
  @HttpCode(200)
  async rotateSecret(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    return this.destinations.rotateSecret(await this.owner(id, principal), destinationId, this.meta(principal, req));
  }

  @Post(':destination_id/headers')
  @ApiZodBody(CreateHeaderSchema)
  async addHeader(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const owner = await this.owner(id, principal);
    return this.headers.add(owner, destinationId, parseInput(CreateHeaderSchema, body), this.meta(principal, req));
  }

  @Put(':destination_id/headers/:header_id')
  @ApiZodBody(UpdateHeaderSchema)
  async updateHeader(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @Param('header_id') headerId: string,
    @Body() body: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    const owner = await this.owner(id, principal);
    return this.headers.update(
      owner,
      destinationId,
      headerId,
      parseInput(UpdateHeaderSchema, body),
      this.meta(principal, req),
    );
  }

  @Delete(':destination_id/headers/:header_id')
  @HttpCode(204)
  async removeHeader(
    @Param('id') id: string | undefined,
    @Param('destination_id') destinationId: string,
    @Param('header_id') headerId: string,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
  ) {
    await this.headers.remove(await this.owner(id, principal), destinationId, headerId, this.meta(principal, req));
  }

  /** Who did it and from where, for the audit event of the change. */
  private meta(principal: Principal, req: Request): CommandMetadata {
    return {
      actor: { id: principal.userId, name: principal.username, ip_address: clientIp(req, this.config.TRUSTED_PROXIES) },
      correlationId: correlationId(req),
      now: new Date(),
    };
  }
}

/** Destinations of a top-level group, managed by its owners (docs/contracts.md; a subgroup is a 400). */
@Controller('api/v4/groups/:id/audit_events/streaming/destinations')
export class DestinationsController extends DestinationRoutes {
  constructor(
    access: GroupAccess,
    destinations: DestinationsService,
    headers: DestinationHeadersService,
    @Inject(APP_CONFIG) config: AuditStreamerConfig,
  ) {
    super(access, destinations, headers, config);
  }

  protected owner(id: string | undefined, principal: Principal): Promise<DestinationOwner> {
    return this.access.group(id ?? '', principal);
  }
}

/** Instance-level destinations: every group's events, managed by administrators. */
@Controller('api/v4/admin/audit_events/streaming/destinations')
export class InstanceDestinationsController extends DestinationRoutes {
  constructor(
    access: GroupAccess,
    destinations: DestinationsService,
    headers: DestinationHeadersService,
    @Inject(APP_CONFIG) config: AuditStreamerConfig,
  ) {
    super(access, destinations, headers, config);
  }

  protected async owner(_id: string | undefined, principal: Principal): Promise<DestinationOwner> {
    return this.access.instance(principal);
  }
}
