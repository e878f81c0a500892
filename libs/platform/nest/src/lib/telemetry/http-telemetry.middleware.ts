import { Injectable, NestMiddleware } from '@nestjs/common';
import { secondsSince, SpanKind, SpanStatusCode, Telemetry } from '@audit/telemetry';
import type { Histogram } from 'prom-client';
import type { NextFunction, Request, Response } from 'express';

/** The route label of a request no route matched (a 404, a refused method): one series, whatever the path. */
export const UNMATCHED_ROUTE = 'unmatched';

/**
 * The route template a request matched (`/api/v4/projects/:id/releases/:tag`), never the path itself,
 * which would make a series per id. Express sets `req.route` once a route matched; Nest mounts this
 * middleware as a catch-all route of its own (`/{*path}`), so `req.route` still being `ownRoute` at the end
 * means no handler's route matched.
 */
export function routeTemplate(req: Request, ownRoute: unknown): string {
  const route = req.route as { path?: unknown } | undefined;
  if (!route || route === ownRoute || typeof route.path !== 'string') return UNMATCHED_ROUTE;
  return `${req.baseUrl ?? ''}${route.path}`;
}

/**
 * Every request, whatever answered it (a guard's 401, the rate limit's 429, a handler): its duration in
 * `http_server_request_duration_seconds` and, with tracing on, a server span continuing the caller's
 * `traceparent`, active while the request is handled, so that the outbox rows it writes carry its trace.
 */
@Injectable()
export class HttpTelemetryMiddleware implements NestMiddleware {
  private readonly duration: Histogram<'method' | 'route' | 'status_code'>;

  constructor(private readonly telemetry: Telemetry) {
    this.duration = telemetry.metrics.histogram({
      name: 'http_server_request_duration_seconds',
      help: 'HTTP requests by method, route template and status code: how long from arrival to the last byte sent.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
  }

  use(req: Request, res: Response, next: NextFunction): void {
    const started = performance.now();
    const ownRoute: unknown = req.route;
    const { tracing } = this.telemetry;
    const header = req.headers['traceparent'];
    const parent = tracing.enabled
      ? tracing.extract(typeof header === 'string' ? header : undefined, headerValue(req.headers['tracestate']))
      : undefined;
    const span = tracing.startSpan(req.method, { kind: SpanKind.SERVER }, parent);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      const route = routeTemplate(req, ownRoute);
      // A client gone before the answer ('close' without 'finish') is counted with the status it was about to get.
      const status = res.statusCode;
      this.duration.observe({ method: req.method, route, status_code: status }, secondsSince(started));
      if (span.isRecording()) {
        span.updateName(`${req.method} ${route}`);
        span.setAttributes({
          'http.request.method': req.method,
          'http.route': route,
          'http.response.status_code': status,
        });
        if (status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
      }
      span.end();
    };
    res.once('finish', finish);
    res.once('close', finish);
    // A span that is not sampled still carries the trace on (its traceparent says "not sampled").
    if (tracing.enabled) tracing.withSpan(span, next, parent);
    else next();
  }
}

const headerValue = (value: string | string[] | undefined): string | undefined =>
  Array.isArray(value) ? value.join(',') : value;
