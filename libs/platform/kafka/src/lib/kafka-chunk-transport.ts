import { applyDecorators, ArgumentsHost, Catch, ExceptionFilter, UseFilters } from '@nestjs/common';
import { BaseRpcContext, CustomTransportStrategy, EventPattern, MessageHandler, Server } from '@nestjs/microservices';
import { Kafka } from 'kafkajs';
import { lastValueFrom, Observable, throwError } from 'rxjs';
import { BatchConsumer, BatchConsumerOptions, ConsumedEvent, HandlerRejection } from './batch-consumer';

/** The transport id of chunk handlers: `@ChunkPattern` handlers are registered with this transport only. */
export const KAFKA_CHUNK_TRANSPORT = Symbol('KAFKA_CHUNK_TRANSPORT');

/** Where one chunk pattern consumes from: everything of `BatchConsumerOptions` but the handler. */
export type ChunkConsumerOptions = Omit<BatchConsumerOptions, 'handler'>;

/** The context of a chunk handler (`@Ctx()`): `[pattern, topic, groupId]`. */
export class KafkaChunkContext extends BaseRpcContext<[string, string, string]> {
  getPattern(): string {
    return this.args[0];
  }
  getTopic(): string {
    return this.args[1];
  }
  getGroupId(): string {
    return this.args[2];
  }
}

/**
 * Hands a chunk handler's error to the transport as it was thrown. Nest's default RPC filter would
 * turn it into `{ status: 'error', message: 'Internal server error' }`; BatchConsumer (and kafkajs's
 * retry, which looks at the error) must see the same error a provider-based handler throws.
 */
@Catch()
export class RethrowToConsumer implements ExceptionFilter {
  catch(exception: unknown, _host: ArgumentsHost): Observable<never> {
    return throwError(() => exception);
  }
}

/**
 * Declares a controller method as the handler of one chunk consumer of `KafkaChunkTransport`:
 * `@EventPattern(pattern)` bound to that transport, with its errors passed through unchanged. The
 * method gets a chunk (`ConsumedEvent[]`, `@Payload()`) and a `KafkaChunkContext` (`@Ctx()`); it must
 * make its work durable before it resolves, may return `HandlerRejection[]` (dead-lettered), and throws
 * for a transient failure (nothing committed, the chunk comes again): the contract of `BatchHandler`.
 */
export const ChunkPattern = (pattern: string): MethodDecorator =>
  applyDecorators(EventPattern(pattern, KAFKA_CHUNK_TRANSPORT), UseFilters(RethrowToConsumer));

/**
 * A Nest microservice transport (`app.connectMicroservice({ strategy })`) whose handlers each receive a
 * whole chunk. `BatchConsumer` stays the engine: one per registered pattern, so every guarantee of
 * BatchConsumer holds as it does for a provider calling it directly:
 * - the handler is awaited (promise or observable, to its last value) before the chunk's offsets are
 *   resolved and committed, so a chunk is committed only once the handler's work is durable;
 * - the handler's rejections and the messages that do not parse go to `<topic>.dlq` before the commit;
 *   a handler that throws commits nothing and gets the same messages again (kafkajs's retry);
 * - heartbeats between chunks, partitions consumed concurrently, each in order;
 * - `close()` lets the in-flight chunks finish and commit, then leaves the groups. Made by
 *   `ChunkTransports`, a transport is closed in beforeApplicationShutdown, where provider-based
 *   consumers stopped; Nest closes it again (a no-op) with its microservices, before the pools close.
 *
 * `consumers` maps each pattern to its group, topic and options; a handler without a mapping, a mapping
 * without a handler, a `@MessagePattern` or two handlers of one pattern fail `listen`, so the service
 * does not start half consuming.
 */
export class KafkaChunkTransport extends Server implements CustomTransportStrategy {
  override readonly transportId = KAFKA_CHUNK_TRANSPORT;
  private readonly consumers = new Map<string, BatchConsumer>();
  private closing: Promise<void> | null = null;

  /** `defaults` apply to every consumer, under each pattern's own options (the service's session timeout...). */
  constructor(
    private readonly kafka: Kafka,
    private readonly options: Readonly<Record<string, ChunkConsumerOptions>>,
    private readonly defaults: Partial<ChunkConsumerOptions> = {},
  ) {
    super();
  }

  async listen(callback: (err?: unknown) => void): Promise<void> {
    try {
      this.createConsumers();
      // One after the other: a consumer that fails to start leaves the others stopped below.
      for (const consumer of this.consumers.values()) await consumer.start();
      this._status$.next('connected');
      callback();
    } catch (err) {
      await this.stopAll().catch(() => undefined);
      callback(err);
    }
  }

  /** Stops every consumer gracefully (in-flight chunks finish and commit). Safe to call more than once. */
  close(): Promise<void> {
    this.closing ??= this.stopAll().then(() => this._status$.next('disconnected'));
    return this.closing;
  }

  /** The consumers by pattern. */
  unwrap<T>(): T {
    return this.consumers as T;
  }

  on(): never {
    throw new Error('KafkaChunkTransport has no events to listen to');
  }

  private createConsumers(): void {
    const handlers = this.getHandlers();
    const unmapped = [...handlers.keys()].filter((pattern) => !this.options[pattern]);
    const unhandled = Object.keys(this.options).filter((pattern) => !handlers.has(pattern));
    if (unmapped.length > 0) throw new Error(`no consumer options for chunk pattern(s): ${unmapped.join(', ')}`);
    if (unhandled.length > 0) throw new Error(`no @ChunkPattern handler for: ${unhandled.join(', ')}`);
    for (const [pattern, handler] of handlers) {
      if (!handler.isEventHandler) throw new Error(`chunk pattern ${pattern} must be an event handler (@ChunkPattern)`);
      if (handler.next) throw new Error(`chunk pattern ${pattern} has more than one handler`);
      const options = this.options[pattern];
      const context = new KafkaChunkContext([pattern, options.topic, options.groupId]);
      this.consumers.set(
        pattern,
        new BatchConsumer(this.kafka, {
          ...this.defaults,
          ...options,
          handler: (chunk) => this.handle(handler, chunk, context),
        }),
      );
    }
  }

  private async handle(
    handler: MessageHandler,
    chunk: ConsumedEvent[],
    context: KafkaChunkContext,
  ): Promise<HandlerRejection[] | void> {
    try {
      const result = this.transformToObservable(await handler(chunk, context)) as Observable<HandlerRejection[] | void>;
      return await lastValueFrom(result, { defaultValue: undefined });
    } catch (err) {
      // A handler declared with a plain @EventPattern gets Nest's RPC error object: still a failure.
      throw err instanceof Error ? err : new Error(`chunk handler failed: ${JSON.stringify(err)}`, { cause: err });
    }
  }

  private async stopAll(): Promise<void> {
    const stopping = [...this.consumers.values()].map((consumer) => consumer.stop());
    const results = await Promise.allSettled(stopping);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }
}
