import { releaseCreatedEvent, waitFor } from '@audit/testing';
import { INestApplication } from '@nestjs/common';
import { SlotsRepository } from '../src/dispatch/slots.repository';
import { createDestinations, disconnectProducer, send } from './delivery.int-support';
import { Fleet, startCountingReceiver, startFleet } from './replicas.int-support';

/*
 * Two streamer replicas in this process, sharing one database, topic and consumer group, against a
 * real local receiver that counts the requests it holds at once: the per-destination limits are the
 * fleet's, not each process's (docs/architecture.md, "The streamer").
 */
jest.setTimeout(120_000);

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
afterAll(disconnectProducer);

async function fleet(env: Record<string, string>): Promise<Fleet> {
  const f = await startFleet(2, env);
  cleanups.push(f.close);
  return f;
}
async function receiver(holdMs: number, status = 200) {
  const r = await startCountingReceiver(holdMs, status);
  cleanups.push(r.close);
  return r;
}
/** Releases of several projects, so that their keys land on every partition, hence on both replicas. */
const releases = (f: Fleet, count: number) =>
  Array.from({ length: count }, (_, i) =>
    releaseCreatedEvent(i + 1, 40 + (i % 8), `${f.streamer.groupPath}/app-${i % 8}`),
  );
const sentTo = (f: Fleet, url: string) => f.replicas.map((r) => r.sent.filter((u) => u === url).length);

describe('limits held across replicas', () => {
  it('DELIVERY_CONCURRENCY_PER_DESTINATION bounds the requests in flight to a destination from all replicas together', async () => {
    const f = await fleet({ DELIVERY_CONCURRENCY_PER_DESTINATION: '4' });
    const r = await receiver(150);
    await createDestinations(f.streamer, [r.url]);
    const before = sentTo(f, r.url);
    await send(f.streamer.topic, releases(f, 200));

    await waitFor('all 200 events delivered', () => r.deliveredReleases().size === 200, { timeoutMs: 60_000 });
    expect(r.maxInFlight()).toBeLessThanOrEqual(4);
    expect(r.maxInFlight()).toBeGreaterThanOrEqual(2); // the limit was reached for real, not a serial trickle
    // Both replicas sent releases: otherwise one process alone would have kept to its own limit.
    const during = sentTo(f, r.url).map((n, i) => n - before[i]);
    expect(during.every((n) => n > 0)).toBe(true);
  });

  it('a paused destination gets one probe at a time from all replicas, and every event once it recovers', async () => {
    const f = await fleet({ DELIVERY_CONCURRENCY_PER_DESTINATION: '4' });
    const r = await receiver(100, 500);
    const [id] = await createDestinations(f.streamer, [r.url]);
    await send(f.streamer.topic, releases(f, 40));

    await waitFor(
      'the destination to be paused',
      async () =>
        (
          await f.streamer.sql<{ pause_level: number }>(
            'select pause_level from destination_health where destination_id = $1',
            [id],
          )
        )[0]?.pause_level > 0,
    );
    // Requests started before the pause was known (each replica's first failures) may still be held.
    await waitFor('the requests of before the pause to end', () => r.inFlight() <= 1);
    r.resetMax();
    const probing = r.requests.length;
    await waitFor('many probes from the fleet while paused', () => r.requests.length >= probing + 20, {
      timeoutMs: 30_000,
      intervalMs: 20,
    });
    expect(r.maxInFlight()).toBe(1);
    // Each replica's consumer created deliveries to it, so each had probes of its own to send: one
    // process alone would have kept to one at a time.
    expect(f.replicas.map((p) => p.created.filter((d) => d === id).length).every((n) => n > 0)).toBe(true);

    r.answer(200);
    r.resetMax();
    await waitFor('all 40 events delivered after the recovery', () => r.deliveredReleases().size === 40, {
      timeoutMs: 30_000,
    });
    expect(r.maxInFlight()).toBeLessThanOrEqual(4);
  });

  it('costs a few statements per destination, none per request: slots are taken in batches and kept while there is work', async () => {
    const f = await fleet({ DELIVERY_CONCURRENCY_PER_DESTINATION: '8' });
    const r = await receiver(5);
    await createDestinations(f.streamer, [r.url]);
    await waitFor('the destination created event delivered', () => r.requests.length > 0);
    const statements = f.replicas.map((p) => countSlotStatements(p.app));
    await send(f.streamer.topic, releases(f, 400));

    await waitFor('all 400 events delivered', () => r.deliveredReleases().size === 400, { timeoutMs: 60_000 });
    const sent = sentTo(f, r.url).reduce((a, b) => a + b, 0);
    const counted = statements.map((c) => c());
    // Acquisitions, renewals (one a second) and releases of the two replicas together, for 400 requests.
    expect(counted.reduce((a, b) => a + b, 0)).toBeLessThan(sent / 10);
  });
});

/** Counts the statements a replica runs on `delivery_slots` from now on (the real repository, counted on its way). */
function countSlotStatements(app: INestApplication): () => number {
  const repository = app.get(SlotsRepository);
  let count = 0;
  for (const name of ['acquire', 'maintain', 'release', 'releaseAll'] as const) {
    const original = repository[name].bind(repository) as (...args: unknown[]) => Promise<unknown>;
    (repository as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      count++;
      return original(...args);
    };
  }
  return () => count;
}
