import { isoInstant, parseInstant } from './instant';

describe('parseInstant', () => {
  it.each([
    ['2026-11-21', '2026-11-21T00:00:00.000Z'],
    ['2026-11-21T10:15:30Z', '2026-11-21T10:15:30.000Z'],
    ['2026-11-21T10:15:30.123Z', '2026-11-21T10:15:30.123Z'],
    ['2026-11-21T10:15:30.1Z', '2026-11-21T10:15:30.100Z'],
    ['2026-11-21T10:15Z', '2026-11-21T10:15:00.000Z'],
    ['2026-11-21T12:15:30+02:00', '2026-11-21T10:15:30.000Z'],
    ['2026-11-21T00:15:30-0130', '2026-11-21T01:45:30.000Z'],
    ['2024-02-29', '2024-02-29T00:00:00.000Z'],
    ['0001-01-01', '0001-01-01T00:00:00.000Z'],
    ['9999-12-31T23:59:59.999Z', '9999-12-31T23:59:59.999Z'],
  ])('reads %s as %s', (input, expected) => {
    expect(parseInstant(input)).toBe(expected);
  });

  it.each([
    'yesterday',
    '2026-11-21T10:15:30', // no offset: local time of whom?
    '2026-02-29',
    '2026-13-01',
    '2026-11-31',
    '2026-11-21T24:00:00Z',
    '2026-11-21T10:60:00Z',
    '2026-11-21T10:15:30.1234Z',
    '2026-11-21T10:15:30+25:00',
    '21/11/2026',
    '2026-11-21 10:15:30Z',
    '',
    '0000-01-01', // PostgreSQL has no year 0: this was a 500
    '0000-12-31T23:59:59Z',
    '0001-01-01T00:30:00+01:00', // year 0 once the offset is applied
    '9999-12-31T23:30:00-01:00', // year 10000 once the offset is applied
  ])('refuses %j', (input) => {
    expect(parseInstant(input)).toBeNull();
  });
});

describe('isoInstant', () => {
  it('names the range in its refusal', () => {
    const parsed = isoInstant().safeParse('0000-01-01');
    expect(parsed.success).toBe(false);
    expect(parsed.error?.issues[0].message).toMatch(/between 0001-01-01 and 9999-12-31/);
    expect(isoInstant().parse('2026-11-21T10:00:00+01:00')).toBe('2026-11-21T09:00:00.000Z');
  });
});
