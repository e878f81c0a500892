import { Controller, Get, Inject, Logger, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream';
import { ApiZodQuery, APP_CONFIG, clientIp, correlationId, CurrentPrincipal, Principal, Req } from '@audit/platform';
import type { AuditRecorderConfig } from '../config';
import { ExportQuerySchema, parseExportQuery } from './audit-event-filters';
import { AuditEventsExportService, CsvExport, RecordedExport } from './audit-events-export.service';
import { AuditScopeResolver, ResolvedScope } from './audit-scope.resolver';

/**
 * CSV exports, same permissions and filters as the lists. Registered before AuditEventsController,
 * whose `audit_events/:event_id` would otherwise take `audit_events/export.csv`.
 */
@ApiTags('audit events')
@Controller('api/v4')
export class AuditEventsExportController {
  private readonly logger = new Logger(AuditEventsExportController.name);

  constructor(
    private readonly exports: AuditEventsExportService,
    private readonly scopes: AuditScopeResolver,
    @Inject(APP_CONFIG) private readonly config: AuditRecorderConfig,
  ) {}

  @Get('audit_events/export.csv')
  @ApiProduces('text/csv')
  @ApiZodQuery(ExportQuerySchema)
  async instance(
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.export(this.scopes.instance(principal), query, principal, req, res);
  }

  @Get('groups/:id/audit_events/export.csv')
  @ApiProduces('text/csv')
  @ApiZodQuery(ExportQuerySchema)
  async group(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.export(await this.scopes.group(id, principal), query, principal, req, res);
  }

  @Get('projects/:id/audit_events/export.csv')
  @ApiProduces('text/csv')
  @ApiZodQuery(ExportQuerySchema)
  async project(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    await this.export(await this.scopes.project(id, principal), query, principal, req, res);
  }

  /**
   * Everything that can fail with a clean error happens before the first byte: permissions, filters,
   * the export caps (429), the first query, and recording the export's start (503 when it cannot be
   * recorded). Its end is recorded when the response ends, completed or not.
   */
  private async export(
    { scope, label, subject }: ResolvedScope,
    rawQuery: unknown,
    principal: Principal,
    req: Request,
    res: Response,
  ): Promise<void> {
    const { filters, sort } = parseExportQuery(rawQuery);
    const release = this.exports.acquireSlot(principal);
    let started: RecordedExport;
    let csv: CsvExport;
    try {
      csv = await this.exports.open({ scope, filters, sort });
      const origin = { ipAddress: clientIp(req, this.config.TRUSTED_PROXIES), correlationId: correlationId(req) };
      started = await this.exports.recordStart({ principal, subject, filters, sort, origin });
    } catch (err) {
      release();
      throw err;
    }
    const stamp = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    res.status(200);
    res.setHeader('Content-Type', 'text/csv; charset=utf-8');
    res.setHeader('Content-Disposition', `attachment; filename="audit_events_${label}_${stamp}.csv"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // pipeline honours backpressure, and destroys the CSV stream (ending its reads) when the client goes away.
    pipeline(csv.stream, res, (err) => {
      release();
      if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE')
        this.logger.error({ err, scope }, 'audit event export failed after it started');
      this.exports
        .recordEnd(started, csv.rowCount(), !err)
        .catch((recordErr: unknown) =>
          this.logger.error({ err: recordErr, export_id: started.exportId }, 'recording the end of an export failed'),
        );
    });
  }
}
