import { Controller, Get, Inject, Param, Query, Res } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AuditEvent } from '@audit/contracts';
import {
  APP_CONFIG,
  ApiZodQuery,
  CurrentPrincipal,
  linkNext,
  LoadedConfig,
  NotFoundError,
  Principal,
  Req,
} from '@audit/platform';
import { z } from 'zod';
import { cursorKey, encodeCursor } from './audit-event-cursor';
import { ListQuerySchema, parseListQuery } from './audit-event-filters';
import { AuditEventsRepository } from './audit-events.repository';
import { AuditScopeResolver, ResolvedScope } from './audit-scope.resolver';

/** Read-only by design: there is no route that changes or deletes an audit event. */
@ApiTags('audit events')
@Controller('api/v4')
export class AuditEventsController {
  private readonly cursorKey: Buffer;

  constructor(
    private readonly auditEvents: AuditEventsRepository,
    private readonly scopes: AuditScopeResolver,
    @Inject(APP_CONFIG) config: LoadedConfig,
  ) {
    this.cursorKey = cursorKey(config.AUTH_JWT_SECRET);
  }

  @Get('audit_events')
  @ApiZodQuery(ListQuerySchema)
  async instance(
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.page(this.scopes.instance(principal), query, req, res);
  }

  @Get('audit_events/:event_id')
  async one(@Param('event_id') id: string, @CurrentPrincipal() principal: Principal): Promise<AuditEvent> {
    if (!z.string().uuid().safeParse(id).success) throw new NotFoundError(`Audit event ${id} not found`);
    const event = await this.auditEvents.findById(id);
    const allowed =
      event &&
      (principal.admin ||
        principal.auditor ||
        principal.hasRole(event.entity_path, event.entity_type === 'Group' ? 'owner' : 'maintainer'));
    if (!event || !allowed) throw new NotFoundError(`Audit event ${id} not found`);
    return event;
  }

  @Get('groups/:id/audit_events')
  @ApiZodQuery(ListQuerySchema)
  async group(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.page(await this.scopes.group(id, principal), query, req, res);
  }

  @Get('projects/:id/audit_events')
  @ApiZodQuery(ListQuerySchema)
  async project(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res({ passthrough: true }) res: Response,
  ) {
    return this.page(await this.scopes.project(id, principal), query, req, res);
  }

  private async page({ scope }: ResolvedScope, rawQuery: unknown, req: Request, res: Response): Promise<AuditEvent[]> {
    const query = parseListQuery(rawQuery, this.cursorKey);
    const { events, next } = await this.auditEvents.findPage({
      scope,
      filters: query.filters,
      sort: query.sort,
      limit: query.perPage,
      after: query.after,
    });
    // The request's own URL keeps every filter (repeated event_type included) and the sort.
    if (next)
      linkNext(req, res, {
        cursor: encodeCursor({ ...next, sort: query.sort }, this.cursorKey),
        per_page: String(query.perPage),
      });
    return events;
  }
}
