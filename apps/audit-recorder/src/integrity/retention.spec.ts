import { monthsAhead, purgeBoundary } from './retention';

describe('retention boundaries', () => {
  it('purges the months wholly older than the retention: before the first day of the cutoff month', () => {
    // 2555 days before 2033-03-15 is 2026-03-18: March 2026 is not wholly expired, February is.
    expect(purgeBoundary(new Date('2033-03-15T12:00:00Z'), 2555)).toBe('2026-03-01');
    expect(purgeBoundary(new Date('2026-02-01T00:00:00Z'), 31)).toBe('2026-01-01');
    expect(purgeBoundary(new Date('2026-02-01T00:00:00Z'), 32)).toBe('2025-12-01');
  });

  it('creates this month and the next ones, across a year end', () => {
    expect(monthsAhead(new Date('2026-11-30T23:59:59Z'), 2)).toEqual(['2026-11-01', '2026-12-01', '2027-01-01']);
  });
});
