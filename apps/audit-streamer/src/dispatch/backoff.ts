/**
 * Retry timing and outcome classification of deliveries. Pure: randomness and the clock come in
 * as arguments, so the schedule is tested without waiting.
 */
export interface RetrySchedule {
  /** The first retry waits between base/2 and base; each further attempt doubles the step. */
  baseMs: number;
  /** No single wait is longer than this (default 24 h). */
  maxMs: number;
}

export const DEFAULT_RETRY_SCHEDULE: RetrySchedule = { baseMs: 1_000, maxMs: 24 * 60 * 60 * 1_000 };

/**
 * Exponential backoff with "equal jitter" after the given number of failed attempts (1 = first
 * failure): half the exponential step fixed, half random, so retries of many deliveries spread out
 * yet never come sooner than half the step.
 */
export function backoffMs(
  attempts: number,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
  random: () => number = Math.random,
): number {
  const exponent = Math.min(Math.max(attempts, 1) - 1, 40);
  const step = Math.min(schedule.maxMs, schedule.baseMs * 2 ** exponent);
  return Math.round(step / 2 + random() * (step / 2));
}

/** Retry-After as delta seconds or an HTTP date, in milliseconds from `now`; null when absent or invalid. */
export function parseRetryAfterMs(value: string | string[] | undefined, now: number): number | null {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return null;
  const trimmed = raw.trim();
  if (/^\d{1,10}$/.test(trimmed)) return Number(trimmed) * 1000;
  if (!/[a-z]/i.test(trimmed)) return null; // "1.5", "-3": neither delta seconds nor a date
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? null : Math.max(0, date - now);
}

/** The delay before the next attempt: the receiver's Retry-After when given (within the schedule's bounds), else backoff. */
export function nextAttemptDelayMs(
  attempts: number,
  retryAfterMs: number | null,
  schedule: RetrySchedule = DEFAULT_RETRY_SCHEDULE,
  random: () => number = Math.random,
): number {
  if (retryAfterMs !== null) return Math.min(schedule.maxMs, Math.max(schedule.baseMs, retryAfterMs));
  return backoffMs(attempts, schedule, random);
}

/**
 * What an attempt means: only 2xx delivers; 410 Gone says the endpoint is gone for good (the
 * destination is deactivated); everything else — 3xx (redirects are never followed), 4xx, 5xx,
 * timeouts, refused connections — is retried.
 */
export type AttemptVerdict = 'delivered' | 'gone' | 'retry';

export function classifyAttempt(statusCode: number | null): AttemptVerdict {
  if (statusCode !== null && statusCode >= 200 && statusCode < 300) return 'delivered';
  if (statusCode === 410) return 'gone';
  return 'retry';
}

/**
 * How long a failing destination is paused before one probe request, at its `level`-th
 * consecutive all-failed round (1, 2, ...): the same doubling with jitter, capped by `maxPauseMs`,
 * and never shorter than the receiver's Retry-After.
 */
export function destinationPauseMs(
  level: number,
  baseMs: number,
  maxPauseMs: number,
  retryAfterMs: number | null,
  random: () => number = Math.random,
): number {
  const pause = backoffMs(level, { baseMs, maxMs: maxPauseMs }, random);
  return retryAfterMs === null ? pause : Math.max(pause, Math.min(retryAfterMs, maxPauseMs));
}
