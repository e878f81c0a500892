import { INestApplication, Logger } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger as PinoLogger } from 'nestjs-pino';
import { ConfigError, LoadedConfig } from '../config/config';
import { installOpenApi } from '../openapi/openapi';
import { connectMicroservices, ServiceOptions, startMicroservices } from '../runtime/microservices';
import { answerClientErrors } from './client-errors';
import { BoundedExpressAdapter, httpServerOptions } from './http-server';
import { verifyUtf8 } from './request-hygiene';
import { trustProxySetting } from './trusted-proxies';

/**
 * Validates configuration (exiting with a message naming the variable when it is wrong), then
 * starts the service. SIGTERM/SIGINT close it gracefully: consumers finish and commit their
 * in-flight chunk before connections close; a hard deadline stops a shutdown that hangs.
 * `options.microservices` are the service's consumers as Nest microservices (see ServiceOptions).
 */
export async function runService(
  serviceName: string,
  loadConfig: () => LoadedConfig,
  createModule: (config: LoadedConfig) => unknown,
  options: ServiceOptions = {},
): Promise<INestApplication | undefined> {
  let config: LoadedConfig;
  let module: unknown;
  try {
    config = loadConfig();
    // Combinations Node would refuse only once the server is created fail here, with the variable named.
    httpServerOptions(config);
    // Static configuration files (e.g. the audit event type registry) are validated here too.
    module = createModule(config);
  } catch (err) {
    fatal(serviceName, err);
    process.exitCode = 78; // EX_CONFIG
    return undefined;
  }
  try {
    return await start(serviceName, config, module, options);
  } catch (err) {
    // Database or Kafka unreachable, a failed migration: open connections must not keep it alive.
    fatal(serviceName, err);
    process.exit(1);
  }
}

/** One readable JSON line on stderr instead of a stack trace or an unhandled rejection. */
export function fatal(serviceName: string, err: unknown): void {
  const error = err as Error;
  const problems = err instanceof ConfigError ? { problems: err.problems } : {};
  process.stderr.write(
    `${JSON.stringify({ level: 'fatal', service: serviceName, msg: error.message, name: error.name, ...problems })}\n`,
  );
}

async function start(
  serviceName: string,
  config: LoadedConfig,
  module: unknown,
  options: ServiceOptions,
): Promise<INestApplication> {
  const app = await createHttpApplication(serviceName, config, module);
  const logger = new Logger(serviceName);
  const microservices = connectMicroservices(app, options.microservices?.(app, config) ?? []);
  installShutdown(app, logger, config.SHUTDOWN_TIMEOUT_MS);
  await startMicroservices(app, microservices);
  await app.listen(config.PORT, config.HOST);
  logger.log(`${serviceName} listening on http://${config.HOST}:${config.PORT}`);
  return app;
}

/**
 * The application as every service runs it, not yet listening: HTTP limits, JSON logs, body parsing,
 * OpenAPI, problem+json answers to requests refused before routing. Tests start it with a small module.
 */
export async function createHttpApplication(
  serviceName: string,
  config: LoadedConfig,
  module: unknown,
): Promise<NestExpressApplication> {
  const app = await NestFactory.create<NestExpressApplication>(module as never, new BoundedExpressAdapter(config), {
    bufferLogs: true,
    abortOnError: false,
  });
  app.useLogger(app.get(PinoLogger));
  app.useBodyParser('json', { limit: '1mb', verify: verifyUtf8 });
  // X-Forwarded-For/-Proto/-Host are believed only from TRUSTED_PROXIES (none by default): req.ip, req.protocol.
  app.set('trust proxy', trustProxySetting(config.TRUSTED_PROXIES));
  app.disable('x-powered-by');
  if (config.usingDevelopmentSecret) {
    new Logger(serviceName).warn(
      'AUTH_JWT_SECRET is not set: using the built-in DEVELOPMENT secret. Anyone can mint tokens. Never run like this in production.',
    );
  }
  installOpenApi(
    app,
    serviceName,
    `The ${serviceName} HTTP API. Every route takes Authorization: Bearer <JWT>; errors are application/problem+json.`,
  );
  answerClientErrors(app.getHttpServer());
  return app;
}

function installShutdown(app: INestApplication, logger: Logger, timeoutMs: number): void {
  let closing = false;
  const shutdown = (signal: string) => {
    if (closing) return;
    closing = true;
    logger.log(`${signal} received: shutting down`);
    const deadline = setTimeout(() => {
      logger.error(`shutdown did not finish within ${timeoutMs} ms: exiting`);
      process.exit(1);
    }, timeoutMs);
    deadline.unref();
    app
      .close()
      .then(() => process.exit(0))
      .catch((err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  // `on`, not `once`: a second signal (Ctrl-C reaches both concurrently and its children) must not kill a graceful shutdown.
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
}
