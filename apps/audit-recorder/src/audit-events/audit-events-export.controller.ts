import { Controller, Get, Inject, Logger, Param, Query, Res } from '@nestjs/common';
import { ApiProduces, ApiTags } from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { pipeline } from 'node:stream';
import { z } from 'zod';
import {
  ApiZodQuery,
  APP_CONFIG,
  clientIp,
  correlationId,
  CurrentPrincipal,
  parseInput,
  Principal,
  Req,
} from '@audit/platform';
import type { AuditRecorderConfig } from '../config';
import { ExportQuerySchema, parseExportQuery } from './audit-event-filters';
import { AuditEventsExportService, ExportFormat, OpenExport, RecordedExport } from './audit-events-export.service';
import { AuditScopeResolver, ResolvedScope } from './audit-scope.resolver';

const FORMATS: Record<ExportFormat, { contentType: string; extension: string }> = {
  csv: { contentType: 'text/csv; charset=utf-8', extension: 'csv' },
  jsonl: { contentType: 'application/x-ndjson', extension: 'jsonl' },
};

/** The query of `…/audit_events/export`: the export's filters and sort, and the format. */
export const FormattedExportQuerySchema = ExportQuerySchema.extend({
  format: z
    .enum(['csv', 'jsonl'], {
      errorMap: (issue) => ({
        message: issue.code === z.ZodIssueCode.invalid_type ? 'must be given once' : 'must be csv or jsonl',
      }),
    })
    .default('csv')
    .describe('csv (readable columns, then the chain columns) or jsonl (each stored event with its chain fields)'),
});

/** `format` and the rest of the query, every problem of both reported at once as the other parameters are. */
function parseFormattedQuery(raw: unknown): { format: ExportFormat; rest: unknown } {
  const { format } = parseInput(FormattedExportQuerySchema, raw, 'query');
  const { format: _format, ...rest } = (raw ?? {}) as Record<string, unknown>;
  return { format, rest };
}

/**
 * Exports, same permissions and filters as the lists: `…/audit_events/export?format=csv|jsonl`, and the
 * original `…/audit_events/export.csv`. Registered before AuditEventsController, whose
 * `audit_events/:event_id` would otherwise take `audit_events/export` and `audit_events/export.csv`.
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
    await this.export(this.scopes.instance(principal), 'csv', query, principal, req, res);
  }

  @Get('audit_events/export')
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiZodQuery(FormattedExportQuerySchema)
  async instanceFormatted(
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const scope = this.scopes.instance(principal);
    const { format, rest } = parseFormattedQuery(query);
    await this.export(scope, format, rest, principal, req, res);
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
    await this.export(await this.scopes.group(id, principal), 'csv', query, principal, req, res);
  }

  @Get('groups/:id/audit_events/export')
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiZodQuery(FormattedExportQuerySchema)
  async groupFormatted(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const scope = await this.scopes.group(id, principal);
    const { format, rest } = parseFormattedQuery(query);
    await this.export(scope, format, rest, principal, req, res);
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
    await this.export(await this.scopes.project(id, principal), 'csv', query, principal, req, res);
  }

  @Get('projects/:id/audit_events/export')
  @ApiProduces('text/csv', 'application/x-ndjson')
  @ApiZodQuery(FormattedExportQuerySchema)
  async projectFormatted(
    @Param('id') id: string,
    @Query() query: unknown,
    @CurrentPrincipal() principal: Principal,
    @Req() req: Request,
    @Res() res: Response,
  ): Promise<void> {
    const scope = await this.scopes.project(id, principal);
    const { format, rest } = parseFormattedQuery(query);
    await this.export(scope, format, rest, principal, req, res);
  }

  /**
   * Everything that can fail with a clean error happens before the first byte: permissions, filters,
   * the export caps (429), the first query, and recording the export's start (503 when it cannot be
   * recorded). Its end is recorded when the response ends, completed or not.
   */
  private async export(
    { scope, label, subject }: ResolvedScope,
    format: ExportFormat,
    rawQuery: unknown,
    principal: Principal,
    req: Request,
    res: Response,
  ): Promise<void> {
    const { filters, sort } = parseExportQuery(rawQuery);
    const release = this.exports.acquireSlot(principal);
    let started: RecordedExport;
    let file: OpenExport;
    try {
      file = await this.exports.open({ scope, filters, sort }, format);
      const origin = { ipAddress: clientIp(req, this.config.TRUSTED_PROXIES), correlationId: correlationId(req) };
      started = await this.exports.recordStart({ principal, subject, filters, sort, format, origin });
    } catch (err) {
      release();
      throw err;
    }
    const stamp = new Date().toISOString().replace(/[-:]|\.\d{3}/g, '');
    const { contentType, extension } = FORMATS[format];
    res.status(200);
    res.setHeader('Content-Type', contentType);
    res.setHeader('Content-Disposition', `attachment; filename="audit_events_${label}_${stamp}.${extension}"`);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('X-Content-Type-Options', 'nosniff');
    // pipeline honours backpressure, and destroys the export's stream (ending its reads) when the client goes away.
    pipeline(file.stream, res, (err) => {
      release();
      if (err && err.code !== 'ERR_STREAM_PREMATURE_CLOSE')
        this.logger.error({ err, scope }, 'audit event export failed after it started');
      this.exports
        .recordEnd(started, file.rowCount(), !err)
        .catch((recordErr: unknown) =>
          this.logger.error({ err: recordErr, export_id: started.exportId }, 'recording the end of an export failed'),
        );
    });
  }
}
