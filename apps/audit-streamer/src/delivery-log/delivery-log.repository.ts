import { Database } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { toIso, toIsoOrNull, toNumber } from '../sql';
import { AttemptView, DeliveryLogQuery, DeliveryLogView, DeliveryStatus } from './delivery-log.schemas';

/** Attempts shown per delivery (the latest ones); the log keeps them all. */
const ATTEMPTS_SHOWN = 50;

/**
 * The attempt log is the earlier attempts (`delivery_attempts`) followed by the latest one, which
 * is kept on the delivery's own row (Migration20261121000032).
 */
const SELECT_DELIVERIES = `
  select dl.id, dl.audit_event_id, dl.event_type, dl.status, dl.attempts, dl.next_attempt_at, dl.last_status_code,
         dl.last_error, dl.created_at, dl.delivered_at,
         coalesce((select json_agg(a order by a.attempted_at, a.id) from (
                     (select id, attempted_at, status_code, latency_ms, error from delivery_attempts
                       where delivery_id = dl.id order by id desc limit ${ATTEMPTS_SHOWN - 1})
                     union all
                     select 9223372036854775807, dl.last_attempted_at, dl.last_status_code, dl.last_latency_ms, dl.last_error
                      where dl.last_attempted_at is not null) a), '[]'::json) as attempt_log
    from deliveries dl`;

const toView = (r: Record<string, unknown>): DeliveryLogView => ({
  id: toNumber(r['id']),
  audit_event_id: String(r['audit_event_id']),
  event_type: String(r['event_type']),
  status: r['status'] as DeliveryStatus,
  attempts: Number(r['attempts']),
  next_attempt_at: r['status'] === 'delivered' ? null : toIsoOrNull(r['next_attempt_at']),
  last_status_code: r['last_status_code'] === null ? null : Number(r['last_status_code']),
  last_error: (r['last_error'] as string | null) ?? null,
  created_at: toIso(r['created_at']),
  delivered_at: toIsoOrNull(r['delivered_at']),
  attempt_log: (r['attempt_log'] as Array<AttemptView & { id: unknown }>).map(({ id: _id, ...a }) => ({
    ...a,
    attempted_at: toIso(a.attempted_at),
  })),
});

/**
 * The delivery log as the API sees it: listing, retry and replay of one destination's deliveries,
 * and the pruning of delivered ones.
 */
@Injectable()
export class DeliveryLogRepository {
  constructor(private readonly database: Database) {}

  /** Newest first; one more row than asked tells whether there is a next page. */
  async list(
    destinationId: number,
    query: DeliveryLogQuery,
  ): Promise<{ deliveries: DeliveryLogView[]; nextBeforeId: number | null }> {
    const rows = await this.database.autocommit.query<Record<string, unknown>>(
      `${SELECT_DELIVERIES}
        where dl.destination_id = $1 and ($2::text is null or dl.status = $2::text) and ($3::bigint is null or dl.id < $3::bigint)
        order by dl.id desc
        limit $4`,
      [destinationId, query.status ?? null, query.before_id ?? null, query.per_page + 1],
    );
    const deliveries = rows.slice(0, query.per_page).map(toView);
    return { deliveries, nextBeforeId: rows.length > query.per_page ? deliveries[deliveries.length - 1].id : null };
  }

  async find(destinationId: number, deliveryId: number): Promise<DeliveryLogView | null> {
    const [row] = await this.database.autocommit.query<Record<string, unknown>>(
      `${SELECT_DELIVERIES} where dl.destination_id = $1 and dl.id = $2`,
      [destinationId, deliveryId],
    );
    return row ? toView(row) : null;
  }

  /** Makes a not-yet-delivered delivery due now; false when it is delivered already. */
  async retryNow(destinationId: number, deliveryId: number): Promise<boolean> {
    const rows = await this.database.autocommit.query<{ id: string }>(
      `update deliveries set next_attempt_at = now()
        where destination_id = $1 and id = $2 and status <> 'delivered'
        returning id`,
      [destinationId, deliveryId],
    );
    return rows.length > 0;
  }

  /**
   * Re-queues every delivery of the destination created since `since`: delivered ones go back to
   * pending (they will be sent again), failed and pending ones become due now. Returns how many.
   * Deliveries already pruned (DELIVERY_RETENTION_MS) cannot be replayed. Rows are locked in id
   * order, as the worker's outcome writes lock them, so the two wait for each other instead of deadlocking.
   */
  async replaySince(destinationId: number, since: string): Promise<number> {
    const rows = await this.database.autocommit.query<{ count: number }>(
      `with replayed as (
         update deliveries
            set status = case when status = 'delivered' then 'pending' else status end,
                delivered_at = null,
                next_attempt_at = now()
          where id in (select id from deliveries where destination_id = $1 and created_at >= $2::timestamptz order by id for update)
          returning 1
       )
       select count(*)::int as count from replayed`,
      [destinationId, since],
    );
    return rows[0]?.count ?? 0;
  }

  /**
   * Deletes up to `batch` delivered deliveries older than the retention (their attempts cascade).
   * Destination by destination over (destination_id, created_at): a delivery is delivered after it
   * was created, so `created_at` bounds the scan and `delivered_at` decides.
   */
  async pruneDelivered(retentionMs: number, batch: number): Promise<number> {
    const rows = await this.database.autocommit.query<{ count: number }>(
      `with cutoff as (select now() - $1::double precision * interval '1 millisecond' as at),
       pruned as (
         delete from deliveries where id in (
           select x.id from destinations d cross join cutoff c
            cross join lateral (
              select dl.id from deliveries dl
               where dl.destination_id = d.id and dl.created_at < c.at and dl.status = 'delivered' and dl.delivered_at < c.at
               limit $2) x
            limit $2)
         returning 1
       )
       select count(*)::int as count from pruned`,
      [retentionMs, batch],
    );
    return rows[0]?.count ?? 0;
  }
}
