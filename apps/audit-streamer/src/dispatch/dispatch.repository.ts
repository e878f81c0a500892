import { Database } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { toNumber } from '../sql';
import { WorkerSqlPool } from '../worker-sql-pool';

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
   * never fills the batch: each active, unpaused destination gives at most its free slots
   * (`perDestination` minus what this process already has in flight for it; a destination
   * recovering from failures gives one, its probe), and the batch holds at most `limit`.
   * Destinations are visited in random order so none is always served last. The claim is a
   * lease: a crash mid-send lets it expire and the delivery is tried again.
   */
  async claimDue(
    limit: number,
    perDestination: number,
    inFlight: ReadonlyMap<number, number>,
    leaseMs: number,
  ): Promise<ClaimedDelivery[]> {
    const rows = await this.worker.autocommit.query<Record<string, unknown>>(
      `with slots as (
         select d.id, d.config_version, greatest(0, (case when coalesce(h.pause_level, 0) > 0 then 1 else $1::int end)
                                  - coalesce(($2::jsonb ->> d.id::text)::int, 0)) as free
           from destinations d
           left join destination_health h on h.destination_id = d.id
          where d.active and (h.paused_until is null or h.paused_until <= now())
          order by random()
       ), due as (
         select dl.id, s.config_version from slots s
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
       returning dl.id, dl.destination_id, dl.audit_event_id, dl.event_type, dl.payload, dl.attempts, due.config_version`,
      [perDestination, JSON.stringify(Object.fromEntries(inFlight)), limit, leaseMs],
    );
    return rows.map((r) => ({
      id: toNumber(r['id']),
      destinationId: toNumber(r['destination_id']),
      auditEventId: String(r['audit_event_id']),
      eventType: String(r['event_type']),
      payload: r['payload'],
      attempts: Number(r['attempts']),
      destinationVersion: toNumber(r['config_version']),
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
