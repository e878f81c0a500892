import { BACKOFF_CAP_MS, backoffMs, nextAttemptDelayMs, parseRetryAfterMs } from './backoff';

describe('backoffMs', () => {
  it('doubles per attempt, between half and all of the step', () => {
    expect(backoffMs(1, () => 0)).toBe(500);
    expect(backoffMs(1, () => 1)).toBe(1000);
    expect(backoffMs(2, () => 0)).toBe(1000);
    expect(backoffMs(4, () => 1)).toBe(8000);
    expect(backoffMs(4, () => 0.5)).toBe(6000);
  });

  it('is capped at one hour, even for huge attempt counts', () => {
    expect(backoffMs(50, () => 1)).toBe(BACKOFF_CAP_MS);
    expect(backoffMs(10_000, () => 0)).toBe(BACKOFF_CAP_MS / 2);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');

  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('120', now)).toBe(120_000);
    expect(parseRetryAfterMs(['5'], now)).toBe(5_000);
    expect(parseRetryAfterMs('Sat, 21 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
  });

  it('ignores absent and invalid values', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeNull();
    expect(parseRetryAfterMs('soon', now)).toBeNull();
  });
});

describe('nextAttemptDelayMs', () => {
  it('honours Retry-After within [1 s, 1 h], else backs off', () => {
    expect(nextAttemptDelayMs(3, 30_000)).toBe(30_000);
    expect(nextAttemptDelayMs(3, 0)).toBe(1_000);
    expect(nextAttemptDelayMs(3, 10 * BACKOFF_CAP_MS)).toBe(BACKOFF_CAP_MS);
    expect(nextAttemptDelayMs(3, null, () => 1)).toBe(4_000);
  });
});
