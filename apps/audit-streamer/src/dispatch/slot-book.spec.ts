import { SlotBook } from './slot-book';

/* The gate every send passes (DeliveryWorker.pump): slots held, their validity, the cap of a pause, the fair share. */
const LEASE = 35_000;
const SEND = 11_000; // DELIVERY_TIMEOUT_MS 10 s + margin
const book = () => new SlotBook({ limit: 4, leaseMs: LEASE, sendMs: SEND });
const slots = (destinationId: number, ...numbers: number[]) => numbers.map((slot) => ({ destinationId, slot }));

describe('SlotBook', () => {
  it('counts a slot for a new send only while it stays valid for a whole send, in the clock of the statement that took it', () => {
    const b = book();
    b.hold(slots(1, 0, 1), 1_000);
    expect(b.usable(1, 1_000)).toBe(2);
    expect(b.usable(2, 1_000)).toBe(0);
    // Valid until 1 000 + 35 000: a send may start while it would end (timeout + margin) before then.
    expect(b.usable(1, 1_000 + LEASE - SEND)).toBe(2);
    expect(b.usable(1, 1_000 + LEASE - SEND + 1)).toBe(0);
    // Renewed by a later statement: valid again, one slot at a time.
    b.hold(slots(1, 0), 20_000);
    expect(b.usable(1, 30_000)).toBe(1);
    expect(b.count(1)).toBe(2); // the other is still held, for the request that may run on it
  });

  it('renews slots past a quarter of their lease', () => {
    const b = book();
    b.hold(slots(1, 0), 0);
    b.hold(slots(2, 0), 10_000);
    expect(b.dueForRenewal(9_000)).toEqual(slots(1, 0));
    expect(b.dueForRenewal(19_000)).toEqual([...slots(1, 0), ...slots(2, 0)]);
  });

  it('a failure here caps the destination at one request (its probe) until a statement sent after its recording says healthy', () => {
    const b = book();
    b.hold(slots(1, 0, 1, 2, 3), 0);
    expect(b.cap(1)).toBe(4);
    const recorded = b.failed(1);
    expect(b.failed(1)).toBeNull(); // the next failures of the same round add nothing to wait for
    expect(b.cap(1)).toBe(1);
    expect(b.usable(1, 100)).toBe(1); // slot 0 only
    expect(b.paused()).toEqual([1]);
    // A claim sent before the failure reached the database read "healthy": ignored.
    b.observe({ destinationId: 1, paused: false, share: 4 }, 150);
    expect(b.cap(1)).toBe(1);
    recorded?.(200);
    b.observe({ destinationId: 1, paused: false, share: 4 }, 199);
    expect(b.cap(1)).toBe(1);
    // Sent after: the destination recovered meanwhile (another replica's probe succeeded).
    b.observe({ destinationId: 1, paused: false, share: 4 }, 200);
    expect(b.cap(1)).toBe(4);
    expect(b.paused()).toEqual([]);
    // Another replica's failure, read from the database.
    b.observe({ destinationId: 1, paused: true, share: 1 }, 300);
    expect(b.usable(1, 300)).toBe(1);
  });

  it('asks for what the work needs, within the share, counting only slots under the cap', () => {
    const b = book();
    expect(b.wanted(1, 10)).toBe(4);
    expect(b.wanted(1, 2)).toBe(2);
    b.hold(slots(1, 0, 1), 0);
    expect(b.wanted(1, 10)).toBe(2);
    b.observe({ destinationId: 1, paused: false, share: 2 }, 1); // another replica waits
    expect(b.wanted(1, 10)).toBe(0);
    b.observe({ destinationId: 1, paused: true, share: 1 }, 2);
    expect(b.wanted(1, 10)).toBe(0); // slot 0 is held: the probe's
    b.drop(slots(1, 0));
    expect(b.wanted(1, 10)).toBe(1); // slot 1 is above the cap of 1
  });

  it('gives back slots beyond the share or above the cap, never one a running request occupies, highest first', () => {
    const b = book();
    b.hold(slots(1, 0, 1, 2, 3), 0);
    expect(b.surplus(1, 0)).toEqual([]); // the whole cap is its share while nobody waits
    b.observe({ destinationId: 1, paused: false, share: 2 }, 1);
    expect(b.surplus(1, 4)).toEqual([]);
    expect(b.surplus(1, 3)).toEqual(slots(1, 3));
    expect(b.surplus(1, 0)).toEqual(slots(1, 3, 2));
    b.observe({ destinationId: 1, paused: true, share: 1 }, 2);
    expect(b.surplus(1, 0)).toEqual(slots(1, 3, 2, 1));
    expect(b.surplus(1, 2)).toEqual(slots(1, 3, 2));
    b.drop(slots(1, 0));
    expect(b.surplus(1, 0)).toEqual(slots(1, 3, 2, 1)); // none under the cap: all of them
  });
});
