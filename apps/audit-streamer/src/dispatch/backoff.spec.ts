import {
  backoffMs,
  classifyAttempt,
  DEFAULT_RETRY_SCHEDULE,
  destinationPauseMs,
  nextAttemptDelayMs,
  parseRetryAfterMs,
} from './backoff';

const DAY = 24 * 60 * 60 * 1000;

describe('backoffMs', () => {
  it('doubles per attempt, between half and all of the step', () => {
    expect(backoffMs(1, DEFAULT_RETRY_SCHEDULE, () => 0)).toBe(500);
    expect(backoffMs(1, DEFAULT_RETRY_SCHEDULE, () => 1)).toBe(1000);
    expect(backoffMs(2, DEFAULT_RETRY_SCHEDULE, () => 0)).toBe(1000);
    expect(backoffMs(4, DEFAULT_RETRY_SCHEDULE, () => 1)).toBe(8000);
    expect(backoffMs(4, DEFAULT_RETRY_SCHEDULE, () => 0.5)).toBe(6000);
  });

  it('stays within [step/2, step] for random jitter, for every attempt', () => {
    for (let attempts = 1; attempts <= 40; attempts++) {
      const step = Math.min(DAY, 1000 * 2 ** (attempts - 1));
      for (let i = 0; i < 50; i++) {
        const delay = backoffMs(attempts);
        expect(delay).toBeGreaterThanOrEqual(Math.floor(step / 2));
        expect(delay).toBeLessThanOrEqual(step);
      }
    }
  });

  it('is capped at 24 h by default, even for huge attempt counts, and follows a configured schedule', () => {
    expect(backoffMs(50, DEFAULT_RETRY_SCHEDULE, () => 1)).toBe(DAY);
    expect(backoffMs(10_000, DEFAULT_RETRY_SCHEDULE, () => 0)).toBe(DAY / 2);
    expect(backoffMs(3, { baseMs: 100, maxMs: 300 }, () => 1)).toBe(300);
    expect(backoffMs(2, { baseMs: 100, maxMs: 300 }, () => 0)).toBe(100);
  });
});

describe('parseRetryAfterMs', () => {
  const now = Date.parse('2026-11-21T10:00:00Z');

  it('reads delta seconds and HTTP dates', () => {
    expect(parseRetryAfterMs('120', now)).toBe(120_000);
    expect(parseRetryAfterMs([' 5 '], now)).toBe(5_000);
    expect(parseRetryAfterMs('Sat, 21 Nov 2026 10:00:30 GMT', now)).toBe(30_000);
    expect(parseRetryAfterMs('Sat, 21 Nov 2026 09:00:00 GMT', now)).toBe(0);
  });

  it('ignores absent and invalid values', () => {
    expect(parseRetryAfterMs(undefined, now)).toBeNull();
    expect(parseRetryAfterMs('', now)).toBeNull();
    expect(parseRetryAfterMs('soon', now)).toBeNull();
    expect(parseRetryAfterMs('-3', now)).toBeNull();
    expect(parseRetryAfterMs('1.5', now)).toBeNull();
  });
});

describe('nextAttemptDelayMs', () => {
  it('honours Retry-After within [base, max], else backs off', () => {
    expect(nextAttemptDelayMs(3, 30_000)).toBe(30_000);
    expect(nextAttemptDelayMs(3, 0)).toBe(1_000);
    expect(nextAttemptDelayMs(3, 10 * DAY)).toBe(DAY);
    expect(nextAttemptDelayMs(3, null, DEFAULT_RETRY_SCHEDULE, () => 1)).toBe(4_000);
    expect(nextAttemptDelayMs(3, 60_000, { baseMs: 10, maxMs: 5_000 })).toBe(5_000);
  });
});

describe('classifyAttempt', () => {
  it.each([
    [200, 'delivered'],
    [201, 'delivered'],
    [204, 'delivered'],
    [299, 'delivered'],
    [410, 'gone'],
    [301, 'retry'],
    [302, 'retry'],
    [307, 'retry'],
    [400, 'retry'],
    [404, 'retry'],
    [429, 'retry'],
    [500, 'retry'],
    [503, 'retry'],
    [null, 'retry'],
  ] as const)('%s is %s', (status, verdict) => {
    expect(classifyAttempt(status)).toBe(verdict);
  });
});

describe('destinationPauseMs', () => {
  it('doubles with the level up to the cap, and never undercuts Retry-After (itself capped)', () => {
    expect(destinationPauseMs(1, 1000, 60_000, null, () => 1)).toBe(1000);
    expect(destinationPauseMs(3, 1000, 60_000, null, () => 1)).toBe(4000);
    expect(destinationPauseMs(30, 1000, 60_000, null, () => 1)).toBe(60_000);
    expect(destinationPauseMs(1, 1000, 60_000, 20_000, () => 1)).toBe(20_000);
    expect(destinationPauseMs(1, 1000, 60_000, 3_600_000, () => 1)).toBe(60_000);
  });
});
