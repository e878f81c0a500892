import { Database } from '@audit/platform';
import { Telemetry } from '@audit/telemetry';
import { DeliveryMetrics } from './delivery-metrics';
import { Logger } from '@nestjs/common';
import { AuditStreamerConfig } from '../config';
import { AttemptRecorder, RecordedAttempt } from '../outcomes/attempt-recorder';
import { ClaimedDelivery, DispatchRepository } from './dispatch.repository';
import { DeliverySignal } from './delivery-signal';
import { DeliveryWorker } from './delivery-worker';
import { DestinationSlots } from './destination-slots';
import type { SlotRef } from './slot-book';
import { SlotRequest, SlotsRepository } from './slots.repository';
import { TargetCache } from './target-cache';
import { SendResult, WebhookSender } from './webhook-sender';

/*
 * The worker's hand-off queue in isolation: the claim, the database and HTTP are replaced by
 * recording stand-ins (the real ones are exercised by delivery.int.spec.ts and, for the slots
 * shared by replicas, replicas.int.spec.ts). The slots are DestinationSlots itself over a stand-in
 * of its table.
 */
const config = {
  DELIVERY_CONCURRENCY: 4,
  DELIVERY_CONCURRENCY_PER_DESTINATION: 2,
  DELIVERY_TIMEOUT_MS: 1000,
  DELIVERY_POLL_INTERVAL_MS: 60_000,
  DELIVERY_RETRY_BASE_MS: 100,
  DELIVERY_RETRY_MAX_MS: 1000,
} as AuditStreamerConfig;

/**
 * delivery_slots as one process sees it: `othersHold` slots (the lowest) of a destination are
 * another replica's; `paused` destinations (the recorder marks them on a failed attempt, as
 * AttemptRecorder does in destination_health) have a cap of 1.
 */
function slotTable(othersHold = new Map<number, number>()) {
  const taken = new Map<number, Set<number>>();
  const paused = new Set<number>();
  const repository = {
    acquire: (_holder: string, limit: number, _lease: number, _wait: number, requests: readonly SlotRequest[]) =>
      Promise.resolve(
        requests.map((r) => {
          const mine = taken.get(r.destinationId) ?? new Set<number>();
          taken.set(r.destinationId, mine);
          const cap = r.paused || paused.has(r.destinationId) ? 1 : limit;
          const slots: number[] = [];
          for (let slot = othersHold.get(r.destinationId) ?? 0; slot < cap && slots.length < r.want; slot++) {
            if (!mine.has(slot)) slots.push(slot);
          }
          slots.forEach((slot) => mine.add(slot));
          return { destinationId: r.destinationId, paused: paused.has(r.destinationId), share: limit, slots };
        }),
      ),
    maintain: (_h: string, limit: number, _l: number, held: readonly number[], renew: readonly SlotRef[]) =>
      Promise.resolve(
        held.map((destinationId) => ({
          destinationId,
          paused: paused.has(destinationId),
          share: limit,
          renewed: renew.filter((s) => s.destinationId === destinationId).map((s) => s.slot),
        })),
      ),
    release: (_holder: string, slots: readonly SlotRef[]) => {
      slots.forEach((s) => taken.get(s.destinationId)?.delete(s.slot));
      return Promise.resolve();
    },
    releaseAll: () => Promise.resolve(taken.clear()),
  } as unknown as SlotsRepository;
  return { repository, taken, paused };
}

function harness(othersHold?: Map<number, number>) {
  const table = slotTable(othersHold);
  const released: number[] = [];
  const answers: Array<{ destinationId: number; answer: (r: SendResult) => void }> = [];
  const recorded: RecordedAttempt[] = [];
  const deliveries = {
    claimDue: () => Promise.resolve([]),
    releaseLeases: (ids: readonly number[]) => {
      released.push(...ids);
      return Promise.resolve();
    },
  } as unknown as DispatchRepository;
  const targets = {
    get: (id: number) =>
      Promise.resolve({ id, url: `http://receiver/${id}`, build: () => ({ headers: {}, body: '{}' }) }),
  } as unknown as TargetCache;
  let sending = 0;
  let inFlight = 0;
  let maxInFlight = 0;
  const sender = {
    send: (req: { url: string }) => {
      sending++;
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      return new Promise<SendResult>((answer) =>
        answers.push({
          destinationId: Number(req.url.split('/').pop()),
          answer: (r) => {
            inFlight--;
            answer(r);
          },
        }),
      );
    },
  } as unknown as WebhookSender;
  const recorder = {
    add: (a: RecordedAttempt) => {
      recorded.push(a);
      if (a.verdict !== 'delivered') table.paused.add(a.destinationId);
    },
    flush: () => Promise.resolve(),
  } as unknown as AttemptRecorder;
  const slots = new DestinationSlots(config, table.repository);
  const telemetry = Telemetry.disabled();
  const metrics = new DeliveryMetrics(telemetry, {} as Database); // its gauges read the database only when scraped
  const worker = new DeliveryWorker(
    config,
    deliveries,
    targets,
    sender,
    recorder,
    new DeliverySignal(),
    slots,
    metrics,
    telemetry,
  );
  worker.onApplicationBootstrap();
  // A few turns of the event loop: an acquisition of slots is batched to the next one, then answered.
  const settle = async () => {
    for (let i = 0; i < 5; i++) await new Promise((resolve) => setImmediate(resolve));
  };
  return {
    worker,
    table,
    released,
    answers,
    recorded,
    settle,
    sending: () => sending,
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
  };
}

beforeAll(() => Logger.overrideLogger(false)); // the failed attempt's warning is expected

let next = 1;
const delivery = (destinationId: number): ClaimedDelivery => ({
  id: next++,
  destinationId,
  auditEventId: `e-${next}`,
  eventType: 'release_created',
  payload: {},
  attempts: 0,
  destinationVersion: 1,
  traceparent: null,
});

describe('DeliveryWorker hand-off', () => {
  it('starts hand-offs up to the destination slots, and the next one as a slot frees', async () => {
    const h = harness();
    h.worker.offer([1, 1, 1, 2].map(delivery));
    await h.settle();
    expect(h.answers.map((a) => a.destinationId).sort()).toEqual([1, 1, 2]); // 2 slots per destination
    h.answers[0].answer({ statusCode: 204, latencyMs: 1, error: null });
    await h.settle();
    await h.settle();
    expect(h.sending()).toBe(4);
    expect(h.recorded.map((r) => r.verdict)).toEqual(['delivered']);
    h.answers.slice(1).forEach((a) => a.answer({ statusCode: 204, latencyMs: 1, error: null }));
    await h.worker.onModuleDestroy();
    expect(h.released).toEqual([]);
  });

  it("a failed attempt sends the destination's queue back to the claim; other destinations keep theirs", async () => {
    const h = harness();
    const queued = [1, 1, 1, 1, 2].map(delivery);
    h.worker.offer(queued);
    await h.settle();
    const first = h.answers.find((a) => a.destinationId === 1);
    first?.answer({ statusCode: 500, latencyMs: 1, error: 'HTTP 500' });
    await h.settle();
    await h.settle();
    expect(h.released).toEqual([queued[2].id, queued[3].id]);
    h.answers.filter((a) => a !== first).forEach((a) => a.answer({ statusCode: 204, latencyMs: 1, error: null }));
    await h.worker.onModuleDestroy();
  });

  it('a full destination queue marks it saturated; a full queue makes the consumer wait, then give up, never forever', async () => {
    const h = harness();
    h.worker.offer(Array.from({ length: 2 + 8 }, () => delivery(1))); // 2 in flight, 8 queued = 4 × slots
    await h.settle();
    expect(h.worker.saturated()).toEqual([1]);
    h.worker.offer(Array.from({ length: 2 + 24 }, () => delivery(2))); // queue total 32 = 8 × DELIVERY_CONCURRENCY
    await h.settle();
    await expect(h.worker.waitForRoom(20)).resolves.toBe(false);
    // Room again as soon as sends end and the queue drains below the limit.
    const waiting = h.worker.waitForRoom(5_000);
    h.answers.splice(0).forEach((a) => a.answer({ statusCode: 204, latencyMs: 1, error: null }));
    await expect(waiting).resolves.toBe(true);
    // A stop gives every queued hand-off back.
    const stopping = h.worker.onModuleDestroy();
    await h.settle();
    h.answers.splice(0).forEach((a) => a.answer({ statusCode: 204, latencyMs: 1, error: null }));
    await stopping;
    expect(h.released.length).toBeGreaterThan(0);
    expect(h.sending() + h.released.length).toBe(36);
  });
});

describe('DeliveryWorker on the slots of the fleet', () => {
  const ok = { statusCode: 204, latencyMs: 1, error: null };

  it('sends only on slots it holds: with one of the two held by another replica, one request at a time', async () => {
    const h = harness(new Map([[1, 1]]));
    h.worker.offer([1, 1, 1].map(delivery));
    await h.settle();
    expect(h.sending()).toBe(1);
    for (const expected of [2, 3]) {
      h.answers[expected - 2].answer(ok);
      await h.settle();
      expect(h.sending()).toBe(expected);
    }
    h.answers[2].answer(ok);
    await h.worker.onModuleDestroy();
    expect(h.maxInFlight()).toBe(1);
    expect(h.table.taken.size).toBe(0); // a stop frees every slot
  });

  it("gives a destination's hand-offs back to the claim at once when other replicas hold all its slots, and is saturated for the consumer", async () => {
    const h = harness(new Map([[1, 2]]));
    const handedOff = [1, 1, 1].map(delivery);
    h.worker.offer([...handedOff, delivery(2)]);
    await h.settle();
    expect(h.answers.map((a) => a.destinationId)).toEqual([2]);
    expect(h.released).toEqual(handedOff.map((d) => d.id));
    expect(h.worker.saturated()).toEqual([1]); // until the next tick asks again
    h.answers[0].answer(ok);
    await h.worker.onModuleDestroy();
  });

  it('after a failed attempt sends one request at a time (the probe), and gives back the slots above it as they free', async () => {
    const h = harness();
    h.worker.offer([1, 1].map(delivery));
    await h.settle();
    expect(h.sending()).toBe(2);
    expect([...(h.table.taken.get(1) ?? [])].sort()).toEqual([0, 1]);
    h.answers[0].answer({ statusCode: 500, latencyMs: 1, error: 'HTTP 500' });
    await h.settle();
    // The other request still runs on its slot; new hand-offs wait for it (one at a time), not beside it.
    h.worker.offer([1, 1].map(delivery));
    await h.settle();
    expect(h.sending()).toBe(2);
    h.answers[1].answer(ok);
    await h.settle();
    expect(h.sending()).toBe(3);
    expect([...(h.table.taken.get(1) ?? [])]).toEqual([0]);
    h.answers[2].answer(ok);
    await h.settle();
    expect(h.sending()).toBe(4);
    h.answers[3].answer(ok);
    await h.worker.onModuleDestroy();
    expect(h.maxInFlight()).toBe(2); // the two sent before the failure was known
  });

  it('gives the slots of a destination back to the fleet after a second without work there, and keeps those still in use', async () => {
    jest.useFakeTimers({ doNotFake: ['setImmediate', 'nextTick'] });
    try {
      const h = harness();
      h.worker.offer([delivery(1), delivery(2)]);
      await h.settle();
      h.answers.find((a) => a.destinationId === 1)?.answer(ok);
      await h.settle();
      for (let tick = 0; tick < 3; tick++) {
        jest.advanceTimersByTime(1_000);
        await h.settle();
      }
      expect(h.table.taken.get(1)?.size ?? 0).toBe(0);
      expect(h.table.taken.get(2)?.size).toBe(1); // its request still runs
      h.answers.find((a) => a.destinationId === 2)?.answer(ok);
      await h.worker.onModuleDestroy();
    } finally {
      jest.useRealTimers();
    }
  });
});
