import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Request } from 'express';
import type { Params } from 'nestjs-pino';
import pino from 'pino';
import { activeTraceIds } from '@audit/telemetry';
import type { LoadedConfig } from '../config/config';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;
const PROBE_PATHS = new Set(['/health', '/ready', '/metrics']);

/** Paths that must never reach a log: tokens, secrets, header values of streaming destinations. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-gitlab-event-streaming-token"]',
  'res.headers["set-cookie"]',
  '*.verification_token',
  '*.signing_secret',
  '*.secret',
  '*.token',
  '*.password',
];

type Destination = ReturnType<typeof pino.destination>;
let stdout: Destination | undefined;

/**
 * The process's one writer to stdout: every logger writes through it, and so do the recorder's audit
 * lines when they go to stdout. Whole lines from a single writer never interleave, where two writers'
 * writes beyond the pipe's atomic size (4 KiB) could cut each other's lines.
 */
export const stdoutDestination = (): Destination => (stdout ??= pino.destination({ dest: 1, sync: false }));

/**
 * pino-http options: JSON logs, one request id per request (taken from X-Request-Id when sane), the
 * service and instance in every line, and the client's address (X-Forwarded-For only from TRUSTED_PROXIES).
 */
export const pinoParams = (serviceName: string, config: LoadedConfig): Params => ({
  pinoHttp: [
    {
      level: config.LOG_LEVEL,
      base: { service: serviceName, instance: config.INSTANCE_NAME },
      // The trace of the work a line is about (a request, a chunk, a delivery), with tracing on.
      mixin: activeTraceIds,
      redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
      genReqId: (req: IncomingMessage, res: ServerResponse) => {
        const header = req.headers['x-request-id'];
        const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
        res.setHeader('X-Request-Id', id);
        return id;
      },
      // Probes and scrapes every few seconds would drown the log: they are counted in /metrics instead.
      autoLogging: { ignore: (req: IncomingMessage) => PROBE_PATHS.has(req.url ?? '') },
      customLogLevel: (_req, res, err) =>
        err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
      serializers: {
        req: (req: { id: string; method: string; url: string; raw?: Partial<Request> }) => ({
          id: req.id,
          method: req.method,
          url: req.url,
          remote_ip: req.raw?.ip,
        }),
      },
    },
    stdoutDestination(),
  ],
});
