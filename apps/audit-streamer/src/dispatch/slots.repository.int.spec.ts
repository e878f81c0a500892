import { disconnectProducer, startStreamer, Streamer } from '../../test/delivery.int-support';
import { DeliveryWorker } from './delivery-worker';
import { DispatchRepository } from './dispatch.repository';
import { SlotsRepository } from './slots.repository';

/*
 * The statements of the fleet's delivery slots, and the claim that counts them, against the real
 * PostgreSQL: several holders stand for several replicas (the streamer's own worker is stopped, so
 * it claims nothing here).
 */
jest.setTimeout(60_000);

let s: Streamer;
let slots: SlotsRepository;
beforeAll(async () => {
  s = await startStreamer();
  await s.app.get(DeliveryWorker).onModuleDestroy();
  slots = s.app.get(SlotsRepository);
});
afterAll(async () => {
  await s.close();
  await disconnectProducer();
});

const LIMIT = 4;
const LEASE = 30_000;
const WAIT = 3_000;
async function destination(): Promise<number> {
  const [row] = await s.sql<{ id: string }>(
    `insert into destinations (group_id, name, destination_url, verification_token, signing_secret)
     values (null, 'slots-' || gen_random_uuid(), 'https://siem.example/ingest', 'v1:x', 'v1:x') returning id`,
  );
  return Number(row.id);
}
const acquire = async (holder: string, id: number, want: number, paused = false) =>
  (await slots.acquire(holder, LIMIT, LEASE, WAIT, [{ destinationId: id, want, paused }]))[0];
const holders = async (id: number) =>
  (
    await s.sql<{ slot: number; holder: string | null }>(
      `select slot, holder from delivery_slots where destination_id = $1 and held_until > now() order by slot`,
      [id],
    )
  ).map((r) => `${r.slot}:${r.holder}`);

describe('delivery slots', () => {
  it('are taken up to the cap, rows created as first needed, never by two processes at once', async () => {
    const id = await destination();
    expect(await acquire('a', id, 3)).toEqual({ destinationId: id, paused: false, share: 4, slots: [0, 1, 2] });
    expect((await acquire('b', id, 4)).slots).toEqual([3]);
    expect((await acquire('c', id, 1)).slots).toEqual([]);
    expect(await holders(id)).toEqual(['0:a', '1:a', '2:a', '3:b']);

    // Ten processes at once on a destination none of them has touched: four slots, four holders.
    const fresh = await destination();
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        slots.acquire(`p${i}`, LIMIT, LEASE, WAIT, [{ destinationId: fresh, want: 2, paused: false }]),
      ),
    );
    const granted = answers.flatMap((a) => a[0].slots);
    expect(granted.sort()).toEqual([...new Set(granted)].sort());
    expect(granted.length).toBeLessThanOrEqual(LIMIT);
    expect((await holders(fresh)).length).toBe(granted.length);
  });

  it('a process short of slots waits: the holders see their fair share shrink, give back, and it gets them', async () => {
    const id = await destination();
    expect((await acquire('a', id, 4)).slots).toEqual([0, 1, 2, 3]);
    const [alone] = await slots.maintain('a', LIMIT, LEASE, [id], [], []);
    expect(alone.share).toBe(4);

    expect((await acquire('b', id, 4)).slots).toEqual([]);
    const [shared] = await slots.maintain('a', LIMIT, LEASE, [id], [], []);
    expect(shared.share).toBe(2);
    // b's own share is the whole cap while a waits for nothing: it may take what a gives back.
    await slots.release(
      'a',
      [
        { destinationId: id, slot: 3 },
        { destinationId: id, slot: 2 },
      ],
      [],
    );
    expect((await acquire('b', id, 4)).slots).toEqual([2, 3]);
    // A third process now waits too: shares of 4 / 3 = 1, the remainder left free rather than raced for.
    expect((await acquire('c', id, 2)).slots).toEqual([]);
    const [third] = await slots.maintain('a', LIMIT, LEASE, [id], [], []);
    expect(third.share).toBe(1);

    // Waiting ends with the wait's lifetime, or when a process got all it asked for.
    await s.sql(`update delivery_slot_waiters set waiting_until = now() - interval '1 second' where waiter = 'c'`);
    await slots.releaseAll('b');
    expect((await slots.maintain('a', LIMIT, LEASE, [id], [], []))[0].share).toBe(4);
  });

  it('while paused (or believed paused), a destination has one slot: a single probe for the whole fleet', async () => {
    const id = await destination();
    expect((await acquire('a', id, 2, true)).slots).toEqual([0]); // a failure here, not yet recorded
    await s.sql(`insert into destination_health (destination_id, pause_level, paused_until) values ($1, 1, now())`, [
      id,
    ]);
    expect(await acquire('b', id, 4)).toEqual({ destinationId: id, paused: true, share: 1, slots: [] });
    await slots.releaseAll('a');
    expect((await acquire('b', id, 4)).slots).toEqual([0]);
    const [read] = await slots.maintain('b', LIMIT, LEASE, [id], [], []);
    expect(read).toMatchObject({ paused: true, share: 1 });
  });

  it('are renewed by their holder only; an expired slot goes to whoever asks, and its former holder learns it lost it', async () => {
    const id = await destination();
    expect((await acquire('a', id, 2)).slots).toEqual([0, 1]);
    const renewed = await slots.maintain('a', LIMIT, LEASE, [id], [{ destinationId: id, slot: 0 }], []);
    expect(renewed[0].renewed).toEqual([0]);
    await s.sql(`update delivery_slots set held_until = now() - interval '1 second' where destination_id = $1`, [id]);
    expect((await acquire('b', id, 1)).slots).toEqual([0]);
    const lost = await slots.maintain(
      'a',
      LIMIT,
      LEASE,
      [id],
      [
        { destinationId: id, slot: 0 },
        { destinationId: id, slot: 1 },
      ],
      [],
    );
    expect(lost[0].renewed).toEqual([1]); // slot 1 expired but nobody took it: still a's
    expect(await holders(id)).toEqual(['0:b', '1:a']);
  });

  it("are what the claim gives a process: the cap less the others' slots, within its share, less its own work", async () => {
    const id = await destination();
    await s.sql(
      `insert into deliveries (destination_id, audit_event_id, event_type, payload)
       select $1, gen_random_uuid(), 'release_created', '{}' from generate_series(1, 10)`,
      [id],
    );
    const claim = (holder: string, busy = new Map<number, number>(), paused: number[] = []) =>
      s.app.get(DispatchRepository).claimDue(100, LIMIT, busy, LEASE, { holder, paused });
    const release = async (claimed: Array<{ id: number }>) =>
      s.sql(`update deliveries set leased_until = null where id = any ($1::bigint[])`, [claimed.map((c) => c.id)]);

    expect((await acquire('b', id, 3)).slots).toEqual([0, 1, 2]);
    const one = await claim('a');
    expect(one.map((c) => c.destinationId)).toEqual([id]);
    expect(one[0]).toMatchObject({ paused: false, share: 4 });
    await release(one);
    expect(await claim('a', new Map([[id, 1]]))).toEqual([]); // its one free slot is busy here already
    expect(await claim('b', new Map([[id, 1]]))).toHaveLength(3); // b's three, one of them busy, and the free one
    await s.sql(`update deliveries set leased_until = null where destination_id = $1`, [id]);
    // Believed paused: the cap is 1, and b holds slot 0.
    expect(await claim('a', new Map(), [id])).toEqual([]);
    await slots.releaseAll('b');
    expect(await claim('a', new Map(), [id])).toHaveLength(1);
  });
});
