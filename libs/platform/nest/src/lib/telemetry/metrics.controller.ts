import { Controller, Get, NotFoundException, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { Telemetry } from '@audit/telemetry';
import type { Response } from 'express';
import { Public } from '../auth/auth.guard';

/**
 * `GET /metrics`, the Prometheus text format, without a token: what it holds is counts, durations and
 * states by route template, event type, consumer group and outcome, never a group path, a user, a URL
 * or a destination (docs/operations.md, "Metrics"). Keep it off the public network all the same, as
 * /health and /ready. 404 with METRICS_ENABLED=false.
 */
@Public()
@ApiExcludeController()
@Controller()
export class MetricsController {
  constructor(private readonly telemetry: Telemetry) {}

  @Get('metrics')
  async metrics(@Res() res: Response): Promise<void> {
    const { metrics } = this.telemetry;
    if (!metrics.enabled) throw new NotFoundException('metrics are disabled (METRICS_ENABLED=false)');
    const body = await metrics.render();
    // As prom-client names it (Express's `type()` would add a charset Prometheus does not expect).
    res.status(200).setHeader('Content-Type', metrics.contentType);
    res.end(body);
  }
}
