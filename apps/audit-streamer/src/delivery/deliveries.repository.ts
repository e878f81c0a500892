import type { AuditEvent } from '@audit/contracts';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { WorkerDatabase } from './worker-database';
import { json, toNumber } from '../app/sql';
import { rootPathOf } from '@audit/audit-mapping';
import { boundQuery } from '@audit/platform';

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

/** A delivery just created by the consumer; `leased` ones are handed straight to the local worker. */
export interface InsertedDelivery extends ClaimedDelivery {
  leased: boolean;
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

/** The `deliveries` and `delivery_attempts` tables (see app/sql.ts for why raw SQL). */
@Injectable()
export class DeliveriesRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly worker: WorkerDatabase,
  ) {}

  /**
   * One delivery per (audit event, matching destination): the event's top-level group's active
   * destinations plus the instance-level ones, filtered by event type. A redelivered Kafka message
   * hits the unique key and creates nothing. Returns the new deliveries.
   *
   * A new delivery to a healthy destination (not paused or probing, and not in `saturated`, whose
   * local queue is full; `'all'`: none) is leased at insert for `leaseMs`: the caller hands it straight to this
   * process's worker, so a first attempt costs no claim query and no lease write. The others are
   * left to the claim (claimDue), as retries are.
   */
  async insertMatching(
    em: EntityManager,
    events: readonly AuditEvent[],
    lease: { leaseMs: number; saturated: readonly number[] | 'all' },
  ): Promise<InsertedDelivery[]> {
    if (events.length === 0) return [];
    const ids = events.map((e) => e.id);
    const types = events.map((e) => e.event_type);
    // Instance-scoped events (e.g. an instance-wide export) belong to no group: instance destinations only.
    const roots = events.map((e) => (e.entity_type === 'Instance' ? null : rootPathOf(e.entity_path)));
    const payloads = `[${events.map((e) => JSON.stringify(e)).join(',')}]`;
    const rows = await boundQuery<Record<string, unknown>>(
      em,
      `with e as (
         select * from rows from (unnest(?::uuid[]), unnest(?::text[]), unnest(?::text[]), json_array_elements(?::json))
                with ordinality as e(id, event_type, root_path, payload, ord)
       ), ins as (
         insert into deliveries (destination_id, audit_event_id, event_type, payload, leased_until)
         select d.id, e.id, e.event_type, e.payload,
                case when coalesce(h.pause_level, 0) = 0 and (h.paused_until is null or h.paused_until <= now())
                          and ?::boolean and not (d.id = any (?::bigint[]))
                     then now() + ?::double precision * interval '1 millisecond' end
           from e
           join destinations d
             on d.active
            and (d.group_id is null
                 or d.group_id = (select n.id from namespaces n where n.kind = 'Group' and lower(n.full_path) = lower(e.root_path)))
            and (cardinality(d.event_type_filters) = 0 or e.event_type = any (d.event_type_filters))
           left join destination_health h on h.destination_id = d.id
          order by e.ord, d.id
         on conflict (destination_id, audit_event_id) do nothing
         returning id, destination_id, audit_event_id, leased_until is not null as leased
       )
       select ins.id, ins.destination_id, ins.audit_event_id, ins.leased, d.config_version
         from ins join destinations d on d.id = ins.destination_id`,
      [
        ids,
        types,
        roots,
        payloads,
        lease.saturated !== 'all',
        lease.saturated === 'all' ? [] : [...lease.saturated],
        lease.leaseMs,
      ],
    );
    const byId = new Map(events.map((e) => [e.id, e]));
    return rows.map((r) => {
      const event = byId.get(String(r['audit_event_id'])) as AuditEvent;
      return {
        id: toNumber(r['id']),
        destinationId: toNumber(r['destination_id']),
        auditEventId: event.id,
        eventType: event.event_type,
        payload: event,
        attempts: 0,
        destinationVersion: toNumber(r['config_version']),
        leased: r['leased'] === true,
      };
    });
  }

  /** Gives leases back (a worker's queue overflowed or is stopping): the claim picks them up at once. */
  async releaseLeases(deliveryIds: readonly number[]): Promise<void> {
    if (deliveryIds.length === 0) return;
    await this.worker.query(
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
    const rows = await this.worker.query<Record<string, unknown>>(
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
      [perDestination, json(Object.fromEntries(inFlight)), limit, leaseMs],
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
    const rows = await this.em.fork().execute<Array<Record<string, unknown>>>(
      `select d.id, d.destination_url, d.verification_token, d.signing_secret,
              case when d.previous_signing_secret_expires_at > now() then d.previous_signing_secret end as previous_signing_secret,
              coalesce(json_agg(json_build_object('key', h.key, 'value', h.value) order by h.id)
                       filter (where h.id is not null), '[]'::json) as headers
         from destinations d
         left join destination_headers h on h.destination_id = d.id
        where d.id in (select jsonb_array_elements_text(?::jsonb)::bigint) and d.active
        group by d.id`,
      [json([...new Set(destinationIds)])],
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
