import { Controller, Get, Param, Query, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { AuditEvent } from '@audit/contracts';
import { CurrentPrincipal, NotFoundError, parseInput, PermissionDeniedError, Principal, Req } from '@audit/platform';
import { z } from 'zod';
import { NamespacesRepository } from '../namespaces/namespaces.repository';
import { AuditEventQuery, AuditEventsRepository } from './audit-events.repository';

const Cursor = z
  .string()
  .max(200)
  .transform((raw, ctx) => {
    const [createdAt, id] = Buffer.from(raw, 'base64url').toString('utf8').split('|');
    if (!createdAt || !id || Number.isNaN(Date.parse(createdAt)) || !z.string().uuid().safeParse(id).success) {
      ctx.addIssue({ code: z.ZodIssueCode.custom, message: 'is not a valid cursor' });
      return z.NEVER;
    }
    return { createdAt, id };
  });
const ListQuery = z.object({
  per_page: z.coerce.number().int().min(1).max(100).default(20),
  cursor: Cursor.optional(),
});

const encodeCursor = (c: { createdAt: string; id: string }) => Buffer.from(`${c.createdAt}|${c.id}`).toString('base64url');

/** Read-only by design: there is no route that changes or deletes an audit event. */
@Controller('api/v4')
export class AuditEventsController {
  constructor(
    private readonly auditEvents: AuditEventsRepository,
    private readonly namespaces: NamespacesRepository,
  ) {}

  @Get('audit_events')
  async instance(@Query() query: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    if (!principal.admin && !principal.auditor) throw new PermissionDeniedError('Instance audit events are for administrators and auditors');
    return this.page({ kind: 'instance' }, query, req, res);
  }

  @Get('audit_events/:event_id')
  async one(@Param('event_id') id: string, @CurrentPrincipal() principal: Principal): Promise<AuditEvent> {
    if (!z.string().uuid().safeParse(id).success) throw new NotFoundError(`Audit event ${id} not found`);
    const event = await this.auditEvents.findById(id);
    const allowed = event && (principal.admin || principal.auditor || principal.hasRole(event.entity_path, event.entity_type === 'Group' ? 'owner' : 'maintainer'));
    if (!event || !allowed) throw new NotFoundError(`Audit event ${id} not found`);
    return event;
  }

  @Get('groups/:id/audit_events')
  async group(@Param('id') id: string, @Query() query: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const group = await this.namespaces.find('Group', id);
    if (!group) throw new NotFoundError(`Group ${id} not found`);
    if (!principal.auditor && !principal.hasRole(group.full_path, 'owner')) throw new PermissionDeniedError(`Requires the owner role on ${group.full_path}`);
    return this.page({ kind: 'tree', path: group.full_path }, query, req, res);
  }

  @Get('projects/:id/audit_events')
  async project(@Param('id') id: string, @Query() query: unknown, @CurrentPrincipal() principal: Principal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const project = await this.namespaces.find('Project', id);
    if (!project) throw new NotFoundError(`Project ${id} not found`);
    if (!principal.auditor && !principal.hasRole(project.full_path, 'maintainer')) throw new PermissionDeniedError(`Requires the maintainer role on ${project.full_path}`);
    return this.page({ kind: 'entity', entityType: 'Project', entityId: project.id }, query, req, res);
  }

  private async page(scope: AuditEventQuery['scope'], rawQuery: unknown, req: Request, res: Response): Promise<AuditEvent[]> {
    const query = parseInput(ListQuery, rawQuery, 'query');
    const { events, next } = await this.auditEvents.find({ scope, perPage: query.per_page, after: query.cursor });
    if (next) {
      const url = new URL(req.originalUrl, `${req.protocol}://${req.get('host') ?? 'localhost'}`);
      url.searchParams.set('cursor', encodeCursor(next));
      url.searchParams.set('per_page', String(query.per_page));
      res.setHeader('Link', `<${url.toString()}>; rel="next"`);
    }
    return events;
  }
}
