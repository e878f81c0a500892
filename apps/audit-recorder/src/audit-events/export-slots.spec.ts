import { TooManyRequestsError } from '@audit/platform';
import { EXPORT_RETRY_AFTER_S, ExportSlots } from './export-slots';

describe('ExportSlots', () => {
  it('caps the exports of one user, and of the instance, with a 429 that says when to retry', () => {
    const slots = new ExportSlots(3, 2);
    const a1 = slots.acquire(1);
    slots.acquire(1);
    expect(() => slots.acquire(1)).toThrow(TooManyRequestsError);
    slots.acquire(2);
    try {
      slots.acquire(3);
      throw new Error('a fourth export was let in');
    } catch (err) {
      expect(err).toBeInstanceOf(TooManyRequestsError);
      expect((err as TooManyRequestsError).retryAfterS).toBe(EXPORT_RETRY_AFTER_S);
      expect((err as Error).message).toMatch(/maximum of 3 exports/);
    }
    a1();
    expect(slots.inUse()).toBe(2);
    expect(() => slots.acquire(3)).not.toThrow();
  });

  it('releases a slot once however often its release is called', () => {
    const slots = new ExportSlots(2, 2);
    const release = slots.acquire(1);
    release();
    release();
    expect([slots.inUse(), slots.inUse(1)]).toEqual([0, 0]);
    slots.acquire(1);
    slots.acquire(1);
    expect(slots.inUse(1)).toBe(2);
  });
});
