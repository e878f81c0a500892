import { Logger } from '@nestjs/common';
import { AuditStreamerConfig } from '../config';
import { AttemptRecorder, RecordedAttempt } from '../outcomes/attempt-recorder';
import { ClaimedDelivery, DispatchRepository } from './dispatch.repository';
import { DeliverySignal } from './delivery-signal';
import { DeliveryWorker } from './delivery-worker';
import { TargetCache } from './target-cache';
import { SendResult, WebhookSender } from './webhook-sender';

/*
 * The worker's hand-off queue in isolation: the claim, the database and HTTP are replaced by
 * recording stand-ins (the real ones are exercised by delivery.int.spec.ts).
 */
const config = {
  DELIVERY_CONCURRENCY: 4,
  DELIVERY_CONCURRENCY_PER_DESTINATION: 2,
  DELIVERY_TIMEOUT_MS: 1000,
  DELIVERY_POLL_INTERVAL_MS: 60_000,
  DELIVERY_RETRY_BASE_MS: 100,
  DELIVERY_RETRY_MAX_MS: 1000,
} as AuditStreamerConfig;

function harness() {
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
  const sender = {
    send: (req: { url: string }) => {
      sending++;
      return new Promise<SendResult>((answer) =>
        answers.push({ destinationId: Number(req.url.split('/').pop()), answer }),
      );
    },
  } as unknown as WebhookSender;
  const recorder = {
    add: (a: RecordedAttempt) => recorded.push(a),
    flush: () => Promise.resolve(),
  } as unknown as AttemptRecorder;
  const worker = new DeliveryWorker(config, deliveries, targets, sender, recorder, new DeliverySignal());
  worker.onApplicationBootstrap();
  const settle = () => new Promise((resolve) => setImmediate(resolve));
  return { worker, released, answers, recorded, settle, sending: () => sending };
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
