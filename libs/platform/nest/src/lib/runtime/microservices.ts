import type { INestApplication } from '@nestjs/common';
import type { CustomTransportStrategy } from '@nestjs/microservices';
import type { LoadedConfig } from '../config/config';

/** How a service runs beyond its HTTP API. Every field is optional: a service without consumers passes nothing. */
export interface ServiceOptions {
  /**
   * The service's consumers, as Nest microservice transports of the HTTP application (a hybrid
   * application; e.g. a `KafkaChunkTransport` made by `ChunkTransports` of @audit/kafka, whose
   * `@ChunkPattern` handlers are controllers of the module). Built once the application exists, so a
   * strategy can take what it needs from it (`app.get(ChunkTransports)`).
   *
   * Shutdown stays `app.close()`: a strategy made by ChunkTransports stops in beforeApplicationShutdown
   * (its in-flight chunk committed, after every onModuleDestroy, before the HTTP server closes); Nest
   * closes any strategy after the HTTP server; both before onApplicationShutdown closes the database pool.
   */
  microservices?: (app: INestApplication, config: LoadedConfig) => CustomTransportStrategy[];
}

/** Connects each strategy to `app`; they start with `startMicroservices`. */
export function connectMicroservices(
  app: INestApplication,
  strategies: readonly CustomTransportStrategy[],
): readonly CustomTransportStrategy[] {
  for (const strategy of strategies) app.connectMicroservice({ strategy });
  return strategies;
}

/**
 * Initialises the application (lifecycle hooks, as `listen` would) and starts its microservices, so
 * consumers run before the HTTP server accepts requests, as provider-based consumers started in
 * `onApplicationBootstrap` did. Nothing to do without microservices (`listen` initialises).
 */
export async function startMicroservices(
  app: INestApplication,
  strategies: readonly CustomTransportStrategy[],
): Promise<void> {
  if (strategies.length === 0) return;
  await app.init();
  await app.startAllMicroservices();
}
