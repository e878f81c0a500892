import { DatabaseError } from 'pg';

/** A unique violation (23505), of `constraint` when one is named. */
export const isUniqueViolation = (err: unknown, constraint?: string): boolean =>
  err instanceof DatabaseError
    ? err.code === '23505' && (constraint === undefined || err.constraint === constraint)
    : (err as { code?: unknown })?.code === '23505' &&
      (constraint === undefined || (err as { constraint?: unknown }).constraint === constraint);

/*
 * A deadlock victim's transaction is rolled back whole by PostgreSQL, so running it again is safe
 * and is what the client would otherwise have to do after a 500. Raised, for example, when a bulk
 * change of deliveries (replay, a cascading delete) meets the delivery worker's row locks.
 */
const TRANSIENT_SQLSTATES = new Set(['40P01', '40001']);

/** A deadlock or a serialization failure (by SQLSTATE, or by the ORM's exception name). */
export function isTransientDatabaseError(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  if (typeof code === 'string' && TRANSIENT_SQLSTATES.has(code)) return true;
  return (error as { name?: unknown })?.name === 'DeadlockException';
}

/** Runs `work` (a whole transaction) again after a deadlock or serialization failure, at most `attempts` times. */
export async function retryTransient<T>(work: () => Promise<T>, attempts = 4): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      if (attempt >= attempts || !isTransientDatabaseError(error)) throw error;
      // A short, jittered pause so the two transactions do not collide again in lock step.
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
    }
  }
}
