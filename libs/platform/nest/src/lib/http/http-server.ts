import { Logger, NestApplicationOptions } from '@nestjs/common';
import { ExpressAdapter } from '@nestjs/platform-express';
import { createServer as createHttpServer, RequestListener, Server, ServerOptions } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { BaseConfig, ConfigError } from '../config/config';

/*
 * Bounds on what a client may hold on an instance: without them Node waits 60 s for headers, 300 s
 * for a request, checks both only every 30 s and accepts any number of connections, so a few
 * thousand slow connections pin a service. requestTimeout ends when the request has been received:
 * a response (a CSV export) may stream for as long as the client keeps reading.
 */

export type HttpLimits = Pick<
  BaseConfig,
  | 'HTTP_HEADERS_TIMEOUT_MS'
  | 'HTTP_REQUEST_TIMEOUT_MS'
  | 'HTTP_KEEP_ALIVE_TIMEOUT_MS'
  | 'HTTP_IDLE_TIMEOUT_MS'
  | 'HTTP_MAX_CONNECTIONS'
>;

/** Node enforces the header and request deadlines on a timer: a deadline may be missed by up to one tick. */
const MAX_DEADLINE_LAG_MS = 1_000;

/** A full instance refuses connections by the thousand under attack: one warning per window is enough. */
const FULL_WARNING_INTERVAL_MS = 60_000;

/**
 * Options Node reads only when the server is created (connectionsCheckingInterval among them).
 * Throws a ConfigError, as Node would throw an opaque ERR_OUT_OF_RANGE, when headers may take longer
 * than the whole request.
 */
export function httpServerOptions(limits: HttpLimits): ServerOptions {
  if (limits.HTTP_HEADERS_TIMEOUT_MS > limits.HTTP_REQUEST_TIMEOUT_MS) {
    throw new ConfigError([
      {
        variable: 'HTTP_HEADERS_TIMEOUT_MS',
        message: `must not exceed HTTP_REQUEST_TIMEOUT_MS (${limits.HTTP_REQUEST_TIMEOUT_MS})`,
      },
    ]);
  }
  const shortest = Math.min(limits.HTTP_HEADERS_TIMEOUT_MS, limits.HTTP_REQUEST_TIMEOUT_MS);
  return {
    headersTimeout: limits.HTTP_HEADERS_TIMEOUT_MS,
    requestTimeout: limits.HTTP_REQUEST_TIMEOUT_MS,
    keepAliveTimeout: limits.HTTP_KEEP_ALIVE_TIMEOUT_MS,
    connectionsCheckingInterval: Math.min(MAX_DEADLINE_LAG_MS, Math.floor(shortest / 2)),
  };
}

/**
 * The limits that are plain properties of a server. maxHeadersCount stays at Node's default (2000):
 * headers beyond it are silently dropped, not refused, so a lower cap would let the application see
 * other headers than the parser did, and the 16 KiB header limit already bounds the work.
 * maxRequestsPerSocket stays unlimited: a keep-alive connection is already bounded in time and in
 * number, and requests are rate-limited per user, so a per-socket count would bound nothing more.
 */
export function applyConnectionLimits(server: Server, limits: HttpLimits): void {
  server.timeout = limits.HTTP_IDLE_TIMEOUT_MS;
  server.maxConnections = limits.HTTP_MAX_CONNECTIONS;
  warnWhenFull(server, limits.HTTP_MAX_CONNECTIONS);
}

function warnWhenFull(server: Server, maxConnections: number): void {
  const logger = new Logger('HttpServer');
  let warnedAt = -Infinity;
  server.on('drop', () => {
    const now = Date.now();
    if (now - warnedAt < FULL_WARNING_INTERVAL_MS) return;
    warnedAt = now;
    logger.warn(`HTTP_MAX_CONNECTIONS (${maxConnections}) reached: new connections are closed at once`);
  });
}

/**
 * NestJS's Express adapter creates its server with `http.createServer(app)`, too late to pass the
 * options above; this one creates it with them and otherwise does what the original does.
 */
export class BoundedExpressAdapter extends ExpressAdapter {
  constructor(private readonly limits: HttpLimits) {
    super();
  }

  override initHttpServer(options: NestApplicationOptions): void {
    const server = createServerWith(httpServerOptions(this.limits), options, this.getInstance());
    applyConnectionLimits(server, this.limits);
    this.setHttpServer(server);
    if (options?.forceCloseConnections) {
      // Private in the original, and close() relies on the set it fills: reuse it rather than copy it.
      (this as unknown as { trackOpenConnections(): void }).trackOpenConnections();
    }
  }
}

function createServerWith(
  serverOptions: ServerOptions,
  options: NestApplicationOptions,
  listener: RequestListener,
): Server {
  return options?.httpsOptions
    ? createHttpsServer({ ...options.httpsOptions, ...serverOptions }, listener)
    : createHttpServer(serverOptions, listener);
}
