import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Params } from 'nestjs-pino';
import type { LoadedConfig } from '../config/config';

const REQUEST_ID = /^[A-Za-z0-9._-]{1,128}$/;

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

/** pino-http options: JSON logs, one request id per request (taken from X-Request-Id when sane). */
export const pinoParams = (serviceName: string, config: LoadedConfig): Params => ({
  pinoHttp: {
    level: config.LOG_LEVEL,
    base: { service: serviceName },
    redact: { paths: REDACTED_PATHS, censor: '[REDACTED]' },
    genReqId: (req: IncomingMessage, res: ServerResponse) => {
      const header = req.headers['x-request-id'];
      const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
      res.setHeader('X-Request-Id', id);
      return id;
    },
    autoLogging: { ignore: (req: IncomingMessage) => req.url === '/health' || req.url === '/ready' },
    customLogLevel: (_req, res, err) =>
      err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
    serializers: {
      req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
    },
  },
});
