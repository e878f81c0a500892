/** Retry timing of failed deliveries. Pure: randomness and the clock come in as arguments. */
export const BACKOFF_BASE_MS = 1_000;
export const BACKOFF_CAP_MS = 60 * 60 * 1_000;

/**
 * Exponential backoff with "equal jitter" after the given number of attempts (1 = first failure):
 * half the exponential step fixed, half random, capped at one hour.
 */
export function backoffMs(attempts: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempts, 1) - 1, 30);
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_BASE_MS * 2 ** exponent);
  return Math.round(step / 2 + random() * (step / 2));
}

/** Retry-After as delta seconds or an HTTP date, in milliseconds from `now`; null when absent or invalid. */
export function parseRetryAfterMs(value: string | string[] | undefined, now: number): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return null;
  const trimmed = raw.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The delay before the next attempt: the receiver's Retry-After when given (within bounds), else backoff. */
export function nextAttemptDelayMs(attempts: number, retryAfterMs: number | null, random: () => number = Math.random): number {
  if (retryAfterMs !== null) return Math.min(BACKOFF_CAP_MS, Math.max(BACKOFF_BASE_MS, retryAfterMs));
  return backoffMs(attempts, random);
}
