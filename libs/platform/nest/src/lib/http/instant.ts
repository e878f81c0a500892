import { z } from 'zod';

/*
 * Instants a client gives us (a filter's bound, a replay's start). One parser for all of them, so
 * that every service refuses the same things: a date-time without an offset (a local time shifts a
 * window by hours), a rolled-over date (2026-02-30), and an instant outside what the platform can
 * store. PostgreSQL has no year 0 (`0000-01-01` was a 500), and JavaScript writes years past 9999
 * as `+010000-…`, which PostgreSQL does not read: years 1 to 9999 are the range.
 */
export const MIN_INSTANT = '0001-01-01T00:00:00.000Z';
export const MAX_INSTANT = '9999-12-31T23:59:59.999Z';
const MIN_MS = Date.parse(MIN_INSTANT);
const MAX_MS = Date.parse(MAX_INSTANT);

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
// Milliseconds at most: the platform's timestamps have that precision, so nothing finer can match differently.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?(?:(Z)|([+-])(\d{2}):?(\d{2}))$/;

export const INSTANT_MESSAGE = `must be an ISO 8601 date (2026-11-21) or date-time with offset (2026-11-21T10:15:30Z), between ${MIN_INSTANT.slice(0, 10)} and ${MAX_INSTANT.slice(0, 10)}`;

/**
 * An ISO 8601 instant as UTC with milliseconds, or null. A date alone is the start of that day in
 * UTC; a date-time must carry its offset.
 */
export function parseInstant(value: string): string | null {
  const date = DATE_ONLY.exec(value);
  const time = date ? null : DATE_TIME.exec(value);
  const parts = date ?? time;
  if (!parts) return null;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '0', , sign, oh = '0', om = '0'] = parts;
  const [year, month, day, hour, minute, second] = [y, mo, d, h, mi, s].map(Number);
  if (hour > 23 || minute > 59 || second > 59 || Number(oh) > 23 || Number(om) > 59) return null;
  const instant = new Date(0);
  instant.setUTCFullYear(year, month - 1, day);
  instant.setUTCHours(hour, minute, second, Number(frac.padEnd(3, '0')));
  // setUTCFullYear rolls 2026-02-30 over into March: a rolled date was not a real one.
  if (instant.getUTCFullYear() !== year || instant.getUTCMonth() !== month - 1 || instant.getUTCDate() !== day)
    return null;
  const offsetMinutes = (sign === '-' ? -1 : 1) * (Number(oh) * 60 + Number(om));
  const ms = instant.getTime() - offsetMinutes * 60_000;
  if (ms < MIN_MS || ms > MAX_MS) return null;
  return new Date(ms).toISOString();
}

/** A zod string read with parseInstant; `message` words the refusal (the default names the range). */
export const isoInstant = (message = INSTANT_MESSAGE, params?: z.RawCreateParams) =>
  z.string(params).transform((value, ctx) => {
    const parsed = parseInstant(value);
    if (parsed) return parsed;
    ctx.addIssue({ code: z.ZodIssueCode.custom, message });
    return z.NEVER;
  });
