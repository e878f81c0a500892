import { Database } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { WorkerSqlPool } from '../worker-sql-pool';
import { toIso, toNumber } from '../sql';

export interface AttemptOutcome {
  deliveryId: number;
  destinationId: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** Null when delivered; otherwise when to try again. */
  retryInMs: number | null;
}

export interface DestinationFailure {
  destinationId: number;
  pauseLevel: number;
  pauseMs: number;
}

/**
 * What attempts did: each delivery's outcome and attempt log (`deliveries`, `delivery_attempts`),
 * and the health of its destination (`destination_health`, and the requeue of a recovered
 * destination's failed deliveries), written in batches.
 */
@Injectable()
export class OutcomesRepository {
  constructor(
    private readonly database: Database,
    private readonly worker: WorkerSqlPool,
  ) {}

  /**
   * On the worker's asynchronous-commit pool (WorkerSqlPool), one statement for the whole
   * batch: each delivery moves to delivered or failed, releasing its lease, and its latest attempt
   * is written on its own row; the attempt it replaces, if any, goes to `delivery_attempts` (so a
   * first-try success writes no attempt row). Deliveries deleted meanwhile (destination removed)
   * are skipped.
   */
  async recordAttempts(outcomes: readonly AttemptOutcome[]): Promise<void> {
    if (outcomes.length === 0) return;
    // In id order, as the rows are then locked (a nested loop over the set): a replay locking the
    // same rows in the same order waits instead of deadlocking.
    const records = [...outcomes]
      .sort((a, b) => a.deliveryId - b.deliveryId)
      .map((o) => ({
        id: o.deliveryId,
        status_code: o.statusCode,
        latency_ms: o.latencyMs,
        error: o.error,
        retry_in_ms: o.retryInMs,
      }));
    await this.worker.autocommit.query(
      `with o as (
         select * from jsonb_to_recordset($1::jsonb) as o(id bigint, status_code int, latency_ms int, error text, retry_in_ms double precision)
       ), replaced as (
         select dl.id, dl.last_attempted_at, dl.last_status_code, dl.last_latency_ms, dl.last_error
           from deliveries dl join o on o.id = dl.id
          where dl.last_attempted_at is not null
       ), moved as (
         update deliveries dl
            set attempts = dl.attempts + 1,
                status = case when o.retry_in_ms is null then 'delivered' else 'failed' end,
                last_status_code = o.status_code,
                last_error = o.error,
                last_latency_ms = o.latency_ms,
                last_attempted_at = now(),
                delivered_at = case when o.retry_in_ms is null then now() else dl.delivered_at end,
                next_attempt_at = case when o.retry_in_ms is null then dl.next_attempt_at
                                       else now() + o.retry_in_ms * interval '1 millisecond' end,
                leased_until = null
           from o where dl.id = o.id
         returning dl.id
       )
       insert into delivery_attempts (delivery_id, attempted_at, status_code, latency_ms, error)
       select r.id, r.last_attempted_at, r.last_status_code, r.last_latency_ms, r.last_error from replaced r join moved on moved.id = r.id`,
      [JSON.stringify(records)],
    );
  }

  /** Current pause levels of these destinations (0 when healthy or never seen). */
  async pauseLevels(destinationIds: readonly number[]): Promise<Map<number, number>> {
    const rows = await this.database.autocommit.query<{ destination_id: string; pause_level: number }>(
      `select destination_id, pause_level from destination_health where destination_id = any ($1::bigint[])`,
      [destinationIds],
    );
    return new Map(rows.map((r) => [toNumber(r.destination_id), Number(r.pause_level)]));
  }

  /** Pauses failing destinations until their next probe; returns since when each has been failing. */
  async markFailing(
    failures: readonly DestinationFailure[],
  ): Promise<Array<{ destinationId: number; failingSince: string }>> {
    if (failures.length === 0) return [];
    const rows = await this.database.autocommit.query<{ destination_id: string; failing_since: Date }>(
      `insert into destination_health as h (destination_id, failing_since, pause_level, paused_until, updated_at)
       select f.id, now(), f.level, now() + f.pause_ms * interval '1 millisecond', now()
         from jsonb_to_recordset($1::jsonb) as f(id bigint, level int, pause_ms double precision)
         join destinations d on d.id = f.id
       on conflict (destination_id) do update
          set failing_since = coalesce(h.failing_since, now()),
              pause_level = excluded.pause_level,
              paused_until = excluded.paused_until,
              updated_at = now()
       returning destination_id, failing_since`,
      [JSON.stringify(failures.map((f) => ({ id: f.destinationId, level: f.pauseLevel, pause_ms: f.pauseMs })))],
    );
    return rows.map((r) => ({ destinationId: toNumber(r.destination_id), failingSince: toIso(r.failing_since) }));
  }

  /**
   * Destinations that answered 2xx again: healthy, and their failed deliveries due now rather than
   * at the end of a long backoff. Returns those that were failing.
   */
  async markRecovered(destinationIds: readonly number[]): Promise<number[]> {
    if (destinationIds.length === 0) return [];
    const rows = await this.database.autocommit.query<{ destination_id: string }>(
      `with recovered as (
         update destination_health set failing_since = null, pause_level = 0, paused_until = null, updated_at = now()
          where destination_id = any ($1::bigint[])
            and (pause_level > 0 or failing_since is not null)
         returning destination_id
       ), requeued as (
         update deliveries dl set next_attempt_at = now()
           from recovered r
          where dl.destination_id = r.destination_id and dl.status = 'failed' and dl.next_attempt_at > now()
       )
       select destination_id from recovered`,
      [destinationIds],
    );
    return rows.map((r) => toNumber(r.destination_id));
  }
}
