import { DLQ_HEADERS, dlqTopicFor } from '@audit/contracts';
import { collectTopic, releaseCreatedEvent, waitFor } from '@audit/testing';
import { KafkaMessage, Producer } from 'kafkajs';
import { LoadDriver } from './support/load';
import { Platform, startPlatform } from './support/platform';
import { faultsProfile } from './support/profile';
import { expectNothingLost, reportRow, verify } from './support/verify';

/*
 * Scenario 6: poison messages mixed into normal traffic. Straight into the scenario's domain-events
 * topic with kafkajs, keyed like a project's events (so they sit between real events of the same
 * partition), while releases are written over HTTP: bytes that are not JSON, valid JSON of an
 * unknown type, and a ReleaseCreated that breaks its schema. Each must reach the dead-letter topic
 * once per consumer (recorder and streamer) with its reason; every normal event must still be
 * stored and delivered, and nothing normal may be dead-lettered.
 */
const profile = faultsProfile();
jest.setTimeout(profile.convergeTimeoutMs + 240_000);

const SCENARIO = '6. poison messages mixed into normal traffic';
type Kind = 'unparseable' | 'unknown_type' | 'schema_invalid';
const KINDS: Kind[] = ['unparseable', 'unknown_type', 'schema_invalid'];
const POISON = 'x-faults-poison';
let platform: Platform;
let producer: Producer;

beforeAll(async () => {
  platform = await startPlatform(SCENARIO);
  producer = platform.kafka.producer();
  await producer.connect();
});
afterAll(async () => {
  await producer?.disconnect();
  await platform?.stop();
});

function poison(kind: Kind, n: number): Buffer {
  const project = platform.projects[n % platform.projects.length];
  const valid = releaseCreatedEvent(1_000_000 + n, project.id, project.path);
  if (kind === 'unparseable') return Buffer.from(`{"type":"ReleaseCreated", not json ${n}`);
  if (kind === 'unknown_type') return Buffer.from(JSON.stringify({ ...valid, type: 'ReleaseTeleported' }));
  return Buffer.from(JSON.stringify({ ...valid, data: { ...valid.data, release_id: 'seven' } }));
}

const header = (m: KafkaMessage, name: string): string | undefined => m.headers?.[name]?.toString();

describe(SCENARIO, () => {
  it('dead-letters every poison message with its reason, and stores and delivers all normal traffic', async () => {
    const load = new LoadDriver(platform, profile.ratePerSecond);
    const traffic = load.run({ concurrency: profile.concurrency, actions: profile.actions });
    const total = profile.poisonPerKind * KINDS.length;
    for (let n = 0; n < total; n += 1) {
      await waitFor(
        'traffic between two poison messages',
        () => load.accepted.length >= ((n + 1) * profile.actions) / (total + 1),
        { timeoutMs: 60_000, intervalMs: 20 },
      );
      const kind = KINDS[n % KINDS.length];
      const project = platform.projects[n % platform.projects.length];
      await producer.send({
        topic: platform.topic,
        messages: [{ key: `Project:${project.id}`, value: poison(kind, n), headers: { [POISON]: `${n}:${kind}` } }],
      });
    }
    await traffic;

    const verdict = await verify(platform, load.accepted, { timeoutMs: profile.convergeTimeoutMs });
    const dlq = await collectTopic(platform.kafka, dlqTopicFor(platform.topic), `faults-dlq-reader-${platform.suffix}`);
    const consumers = [platform.groupIds.recorder, platform.groupIds.streamer];
    const wanted = Array.from({ length: total }, (_, n) =>
      consumers.map((c) => `${c} ${n}:${KINDS[n % KINDS.length]} ${KINDS[n % KINDS.length]}`),
    ).flat();
    const seen = () =>
      dlq.messages.map(
        (m) => `${header(m, DLQ_HEADERS.consumer)} ${header(m, POISON)} ${header(m, DLQ_HEADERS.reason)}`,
      );
    await waitFor(
      'every poison message in the DLQ, once per consumer, with its reason',
      () => wanted.every((w) => seen().includes(w)),
      { timeoutMs: 60_000, intervalMs: 200 },
    ).catch(() => undefined);
    await dlq.stop();
    reportRow(SCENARIO, verdict, {
      injected: total,
      notes: [
        `${total} poison messages injected (${profile.poisonPerKind} of each kind)`,
        `5xx: ${load.failed.length}`,
      ],
    });

    expect(wanted.filter((w) => !seen().includes(w))).toEqual([]);
    // Nothing but the poison was dead-lettered, and each letter names its source offset and error.
    expect(
      dlq.messages.filter((m) => header(m, POISON) === undefined).map((m) => m.value?.toString().slice(0, 200)),
    ).toEqual([]);
    expect(
      dlq.messages.every(
        (m) =>
          /^\d+$/.test(header(m, DLQ_HEADERS.sourceOffset) ?? '') && (header(m, DLQ_HEADERS.error) ?? '').length > 0,
      ),
    ).toBe(true);
    expect(verdict.dlq).toBe(dlq.messages.length);
    expect(load.failed).toEqual([]);
    expectNothingLost(verdict);
  });
});
