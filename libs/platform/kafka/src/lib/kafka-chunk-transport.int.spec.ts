import {
  Controller,
  Inject,
  INestApplication,
  Injectable,
  OnApplicationShutdown,
  OnModuleDestroy,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import { DLQ_HEADERS, dlqTopicFor, messageKeyFor } from '@audit/contracts';
import { collectTopic, releaseCreatedEvent, testKafka, uniqueSuffix, waitFor } from '@audit/testing';
import { Admin, Kafka } from 'kafkajs';
import { from, map, Observable } from 'rxjs';
import { BatchConsumer, ConsumedEvent, HandlerRejection } from './batch-consumer';
import { ChunkTransports } from './chunk-transports';
import { ensureTopics } from './kafka-admin.service';
import { KAFKA_CLIENT } from './kafka.constants';
import { ChunkPattern, KafkaChunkContext, KafkaChunkTransport } from './kafka-chunk-transport';

/*
 * KafkaChunkTransport in a Nest application (a controller with a @ChunkPattern handler, connected as
 * a microservice the way runService connects it) against the real broker: the guarantees of
 * BatchConsumer hold through Nest's handler pipeline. Each test has its own topic and group.
 */
jest.setTimeout(90_000);

const PATTERN = 'it.chunks';
type Result = Promise<HandlerRejection[] | void> | Observable<HandlerRejection[] | void>;
/** What the controller does with a chunk, set by each test. */
type Script = (chunk: ConsumedEvent[], context: KafkaChunkContext) => Result;
const SCRIPT = Symbol('SCRIPT');
const ON_SHUTDOWN = Symbol('ON_SHUTDOWN');

@Controller()
class ChunkController {
  constructor(@Inject(SCRIPT) private readonly script: Script) {}

  @ChunkPattern(PATTERN)
  handle(@Payload() chunk: ConsumedEvent[], @Ctx() context: KafkaChunkContext): Result {
    return this.script(chunk, context);
  }
}

interface ShutdownSteps {
  /** Where a delivery worker stops (onModuleDestroy). */
  destroy: () => void;
  /** Where the ORM closes its pool (onApplicationShutdown). */
  shutdown: () => Promise<void>;
}

@Injectable()
class ShutdownProbe implements OnModuleDestroy, OnApplicationShutdown {
  constructor(@Inject(ON_SHUTDOWN) private readonly steps: ShutdownSteps) {}
  onModuleDestroy(): void {
    this.steps.destroy();
  }
  onApplicationShutdown(): Promise<void> {
    return this.steps.shutdown();
  }
}

const kafka: Kafka = testKafka('chunk-transport-int');
let admin: Admin;
const topics: string[] = [];

beforeAll(async () => {
  admin = kafka.admin();
  await admin.connect();
});
afterAll(async () => {
  await admin.deleteTopics({ topics: topics.flatMap((t) => [t, dlqTopicFor(t)]) }).catch(() => undefined);
  await admin.disconnect();
});

/** A topic of one partition holding `count` valid events, and a group of its own. */
async function topicWith(count: number): Promise<{ topic: string; groupId: string }> {
  const topic = `it-chunk-${uniqueSuffix()}`;
  topics.push(topic);
  await ensureTopics(admin, topic, 1);
  const producer = kafka.producer();
  await producer.connect();
  const events = Array.from({ length: count }, (_, i) => releaseCreatedEvent(i + 1));
  await producer.send({
    topic,
    acks: -1,
    messages: events.map((e) => ({ key: messageKeyFor(e.scope), value: JSON.stringify(e) })),
  });
  await producer.disconnect();
  return { topic, groupId: `g-${uniqueSuffix()}` };
}

async function startApp(
  { topic, groupId }: { topic: string; groupId: string },
  script: Script,
  steps: ShutdownSteps = { destroy: () => undefined, shutdown: async () => undefined },
): Promise<{ app: INestApplication; transport: KafkaChunkTransport }> {
  const app = await NestFactory.create(
    {
      module: class ChunkTestModule {},
      controllers: [ChunkController],
      providers: [
        { provide: SCRIPT, useValue: script },
        { provide: ON_SHUTDOWN, useValue: steps },
        ShutdownProbe,
        // As KafkaModule provides them.
        { provide: KAFKA_CLIENT, useValue: kafka },
        ChunkTransports,
      ],
    },
    { logger: false },
  );
  const transport = app.get(ChunkTransports).create({ [PATTERN]: { groupId, topic, chunkSize: 5 } });
  app.connectMicroservice({ strategy: transport });
  await app.init();
  await app.startAllMicroservices();
  return { app, transport };
}

/** The group's committed offset of partition 0 ('-1' before any commit). */
const committed = async (groupId: string, topic: string): Promise<string> => {
  const [offsets] = await admin.fetchOffsets({ groupId, topics: [topic] });
  return offsets.partitions.find((p) => p.partition === 0)?.offset ?? '-1';
};

const gate = () => {
  let open: () => void = () => undefined;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
};

const offsetsOf = (chunk: ConsumedEvent[]) => chunk.map((c) => c.offset);

describe('KafkaChunkTransport (real Kafka, in a Nest application)', () => {
  it('commits a chunk only after its handler resolved: a promise, then an observable to its completion', async () => {
    const where = await topicWith(10);
    const handled: ConsumedEvent[][] = [];
    const contexts: KafkaChunkContext[] = [];
    const first = gate();
    const second = gate();
    const { app } = await startApp(where, (chunk, context) => {
      handled.push(chunk);
      contexts.push(context);
      if (handled.length === 1) return first.opened.then(() => []);
      // The second chunk's handler answers with an observable that completes once the gate opens.
      return from(second.opened).pipe(map(() => []));
    });
    try {
      await waitFor('the first chunk to be in flight', () => handled.length === 1);
      expect(await committed(where.groupId, where.topic)).toBe('-1');
      first.open();
      await waitFor('the second chunk to be in flight', () => handled.length === 2);
      await waitFor('the first chunk committed', async () => (await committed(where.groupId, where.topic)) === '5');
      // The observable has not completed: its chunk stays uncommitted.
      expect(await committed(where.groupId, where.topic)).toBe('5');
      second.open();
      await waitFor('the second chunk committed', async () => (await committed(where.groupId, where.topic)) === '10');
      expect(handled.map(offsetsOf)).toEqual([
        ['0', '1', '2', '3', '4'],
        ['5', '6', '7', '8', '9'],
      ]);
      expect(contexts[0].getTopic()).toBe(where.topic);
      expect(contexts[0].getGroupId()).toBe(where.groupId);
      expect(contexts[0].getPattern()).toBe(PATTERN);
    } finally {
      first.open();
      second.open();
      await app.close();
    }
  });

  it('commits nothing when the handler throws and hands it the same chunk again; its rejections reach the DLQ before the commit', async () => {
    const where = await topicWith(5);
    const dlq = await collectTopic(kafka, dlqTopicFor(where.topic), `dlq-reader-${uniqueSuffix()}`);
    const handled: ConsumedEvent[][] = [];
    const committedWhenRetried: string[] = [];
    // What BatchConsumer sees of the handler's failure: the error as thrown, not Nest's RPC error object.
    const transient = new Error('transient: the database is away');
    const failures: unknown[] = [];
    const consumerProto = BatchConsumer.prototype as unknown as { processChunk: (...args: unknown[]) => Promise<void> };
    const processChunk = consumerProto.processChunk;
    const spy = jest.spyOn(consumerProto, 'processChunk').mockImplementation(async function (this: unknown, ...args) {
      try {
        return await processChunk.apply(this, args);
      } catch (err) {
        failures.push(err);
        throw err;
      }
    });
    const { app } = await startApp(where, async (chunk) => {
      handled.push(chunk);
      if (handled.length === 1) throw transient;
      committedWhenRetried.push(await committed(where.groupId, where.topic));
      return [{ offset: chunk[1].offset, reason: 'it_rejected', error: 'rejected by the test' }];
    });
    try {
      await waitFor(
        'the chunk committed after the retry',
        async () => (await committed(where.groupId, where.topic)) === '5',
      );
      // Dead letters are sent (acks from all replicas) before the commit: present once it is seen.
      const [dlqEnd] = await admin.fetchTopicOffsets(dlqTopicFor(where.topic));
      expect(dlqEnd.high).toBe('1');
      expect(handled.map(offsetsOf)).toEqual([
        ['0', '1', '2', '3', '4'],
        ['0', '1', '2', '3', '4'],
      ]);
      expect(committedWhenRetried).toEqual(['-1']);
      expect(failures).toHaveLength(1);
      expect(failures[0]).toBe(transient);
      await waitFor('the dead letter read', () => dlq.messages.length === 1);
      const [letter] = dlq.messages;
      expect(letter.headers?.[DLQ_HEADERS.reason]?.toString()).toBe('it_rejected');
      expect(letter.headers?.[DLQ_HEADERS.sourceOffset]?.toString()).toBe('1');
      expect(letter.headers?.[DLQ_HEADERS.consumer]?.toString()).toBe(where.groupId);
    } finally {
      spy.mockRestore();
      await dlq.stop();
      await app.close();
    }
  });

  it('on app.close(), after the destroy hooks, the in-flight chunk finishes and commits before the shutdown hooks run, and no further chunk is taken', async () => {
    const where = await topicWith(20);
    const handled: ConsumedEvent[][] = [];
    const release = gate();
    const order: string[] = [];
    let committedAtShutdown: string | undefined;
    const { app, transport } = await startApp(
      where,
      async (chunk) => {
        handled.push(chunk);
        await release.opened; // the first chunk is still in flight when the application closes
        order.push('chunk handled');
      },
      {
        destroy: () => order.push('destroy hooks'),
        shutdown: async () => {
          order.push('shutdown hooks');
          committedAtShutdown = await committed(where.groupId, where.topic);
        },
      },
    );
    // The chunk is released once Nest has asked the transport to close, not before.
    const closeTransport = transport.close.bind(transport);
    const closeAsked = gate();
    jest.spyOn(transport, 'close').mockImplementation(() => {
      const closing = closeTransport();
      // Asked twice: by ChunkTransports in beforeApplicationShutdown, then by Nest closing its microservices.
      if (!order.includes('close asked')) order.push('close asked');
      closeAsked.open();
      return closing;
    });
    try {
      await waitFor('the first chunk to be in flight', () => handled.length === 1);
      const closing = app.close();
      await closeAsked.opened;
      // One turn of the event loop: a close() that did not wait for the chunk would have let Nest run
      // the shutdown hooks (no I/O lies between them) by now.
      await new Promise((resolve) => setImmediate(resolve));
      order.push('chunk released');
      release.open();
      await closing;
      expect(order).toEqual(['destroy hooks', 'close asked', 'chunk released', 'chunk handled', 'shutdown hooks']);
      expect(handled).toHaveLength(1);
      expect(await committed(where.groupId, where.topic)).toBe('5');
      expect(committedAtShutdown).toBe('5');
    } finally {
      release.open();
    }
  });

  it('refuses to start a handler whose pattern has no consumer options', async () => {
    const app = await NestFactory.create(
      {
        module: class UnmappedModule {},
        controllers: [ChunkController],
        providers: [{ provide: SCRIPT, useValue: null }],
      },
      { logger: false },
    );
    app.connectMicroservice({ strategy: new KafkaChunkTransport(kafka, {}) });
    try {
      await app.init();
      await expect(app.startAllMicroservices()).rejects.toThrow(
        /no consumer options for chunk pattern\(s\): it\.chunks/,
      );
    } finally {
      await app.close();
    }
  });
});
