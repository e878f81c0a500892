import { DynamicModule, Module } from '@nestjs/common';
import { Outbox, OutboxRelay } from '@audit/outbox';
import { Clock, CLOCK, CommandMetadataFactory } from '../request-metadata';
import { CommandHandler } from './command-handler';
import { EventStore } from './event-store.service';
import { IdAllocator } from './id-allocator';
import { WriteDatabase } from './write-database';

/**
 * The write side every feature shares: the write pool, id allocation, the event store with the
 * outbox and its relay, the command handler and the commands' envelope metadata. Global, so each
 * feature module gets the same instances (one relay, one pool) without importing it; features see
 * only the command handler and the metadata factory.
 */
@Module({})
export class EventStoreModule {
  /** `clock` is injectable so tests can pin `occurred_at`; production reads the system time. */
  static forRoot(clock: Clock = () => new Date()): DynamicModule {
    return {
      module: EventStoreModule,
      global: true,
      providers: [
        { provide: CLOCK, useValue: clock },
        CommandMetadataFactory,
        WriteDatabase,
        IdAllocator,
        OutboxRelay,
        Outbox,
        EventStore,
        CommandHandler,
      ],
      exports: [CLOCK, CommandMetadataFactory, CommandHandler],
    };
  }
}
