import { Database } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { toNumber } from '../sql';
import { WorkerSqlPool } from '../worker-sql-pool';
import { fairShareSql } from './slots.repository';

/** A delivery the worker has claimed (leased) and must now attempt. */
export interface ClaimedDelivery {
  id: number;
  destinationId: number;
  auditEventId: string;
  eventType: string;
  payload: unknown;
  attempts: number;
  /** The destination's config_version at claim time: the target cache reloads when it moved. */
  destinationVersion: number;
  /** The trace of the consumer chunk that created the delivery (null: tracing was off there). */
  traceparent: string | null;
}

/** A destination as the worker needs it: secrets still encrypted. */
export interface DestinationTarget {
  id: number;
  url: string;
  verificationToken: string;
  signingSecret: string;
  /** Still signs (as a second signature) during the rotation grace period. */
  previousSigningSecret: string | null;
  headers: Array<{ key: string; value: string }>;
}

/**
 * What the delivery worker reads and writes to send: the claim of due deliveries (a lease, with
 * `FOR UPDATE SKIP LOCKED`), the release of leases, and the destinations it sends to. Leases go
 * through the worker's asynchronous-commit pool (WorkerSqlPool).
 */
@Injectable()
export class DispatchRepository {
  constructor(
    private readonly database: Database,
    private readonly worker: WorkerSqlPool,
  ) {}

  /** Gives leases back (a worker's queue overflowed or is stopping): the claim picks them up at once. */
  async releaseLeases(deliveryIds: readonly number[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.worker.autocommit.query(
      `update deliveries set leased_until = null where id = any ($1::bigint[]) and status <> 'delivered'`,
      [deliveryIds],
    );
  }

  /**
   * Claims due deliveries, destination by destination, so one destination's backlog or slowness
   * never fills the batch: each active, unpaused destination gives at most what this process may
   * still start there, counted in the fleet's slots (DestinationSlots): its cap
   * (`perDestination`, 1 for a destination recovering from failures, its probe, also when this
   * process believes it `paused`) less the slots other processes hold, within this process's fair
   * share, less the deliveries `busy` here (in flight or queued). The batch holds at most `limit`.
   * Destinations are visited in random order so none is always served last. The claim is a lease:
   * a crash mid-send lets it expire and the delivery is tried again. Each row says what the claim
   * read of its destination (pause, share), for DestinationSlots.observe.
   */
  async claimDue(
    limit: number,
    perDestination: number,
    busy: ReadonlyMap<number, number>,
    leaseMs: number,
    slots: { holder: string; paused: readonly number[] },
  ): Promise<Array<ClaimedDelivery & { paused: boolean; share: number }>> {
    const rows = await this.worker.autocommit.query<Record<string, unknown>>(
      `with dest as (
         select d.id, d.config_version, coalesce(h.pause_level, 0) > 0 as paused,
                case when coalesce(h.pause_level, 0) > 0 or d.id = any ($6::bigint[]) then 1 else $1::int end as cap,
                coalesce(($2::jsonb ->> d.id::text)::int, 0) as busy
           from destinations d
           left join destination_health h on h.destination_id = d.id
          where d.active and (h.paused_until is null or h.paused_until <= now())
       ), slots as (
         select dest.id, dest.config_version, dest.paused, f.share,
                least(dest.cap - f.others_held, f.share) - dest.busy as free
           from dest cross join lateral (${fairShareSql('dest', '$5')}) f
          -- A destination busy to its cap here (a backlog) costs neither the slot counts nor a look at its deliveries.
          where dest.cap > dest.busy
          order by random()
       ), due as (
         select dl.id, s.config_version, s.paused, s.share from slots s
          cross join lateral (
            select dl.id from deliveries dl
             where dl.destination_id = s.id and dl.status <> 'delivered' and dl.next_attempt_at <= now()
               and (dl.leased_until is null or dl.leased_until <= now())
             order by dl.next_attempt_at, dl.id
             limit s.free
             for update skip locked
          ) dl
          where s.free > 0
          limit $3
       )
       update deliveries dl set leased_until = now() + $4::double precision * interval '1 millisecond'
         from due where dl.id = due.id
       returning dl.id, dl.destination_id, dl.audit_event_id, dl.event_type, dl.payload, dl.attempts, dl.traceparent,
                 due.config_version, due.paused, due.share`,
      [perDestination, JSON.stringify(Object.fromEntries(busy)), limit, leaseMs, slots.holder, slots.paused],
    );
    return rows.map((r) => ({
      id: toNumber(r['id']),
      destinationId: toNumber(r['destination_id']),
      auditEventId: String(r['audit_event_id']),
      eventType: String(r['event_type']),
      payload: r['payload'],
      attempts: Number(r['attempts']),
      destinationVersion: toNumber(r['config_version']),
      traceparent: (r['traceparent'] as string | null) ?? null,
      paused: r['paused'] === true,
      share: Number(r['share']),
    }));
  }

  /** Active destinations with their headers; a rotated-out signing secret is included while its grace period lasts. */
  async loadTargets(destinationIds: readonly number[]): Promise<Map<number, DestinationTarget>> {
    const rows = await this.database.autocommit.query<Record<string, unknown>>(
      `select d.id, d.destination_url, d.verification_token, d.signing_secret,
              case when d.previous_signing_secret_expires_at > now() then d.previous_signing_secret end as previous_signing_secret,
              coalesce(json_agg(json_build_object('key', h.key, 'value', h.value) order by h.id)
                       filter (where h.id is not null), '[]'::json) as headers
         from destinations d
         left join destination_headers h on h.destination_id = d.id
        where d.id = any ($1::bigint[]) and d.active
        group by d.id`,
      [[...new Set(destinationIds)]],
    );
    return new Map(
      rows.map((r) => [
        toNumber(r['id']),
        {
          id: toNumber(r['id']),
          url: String(r['destination_url']),
          verificationToken: String(r['verification_token']),
          signingSecret: String(r['signing_secret']),
          previousSigningSecret: (r['previous_signing_secret'] as string | null) ?? null,
          headers: r['headers'] as Array<{ key: string; value: string }>,
        },
      ]),
    );
  }
}
