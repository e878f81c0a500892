import type { AuditEvent } from '@audit/contracts';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { json, toNumber } from '../app/sql';
import { rootPathOf } from '@audit/audit-mapping';

/** A delivery the worker has claimed (leased) and must now attempt. */
export interface ClaimedDelivery {
  id: number;
  destinationId: number;
  auditEventId: string;
  eventType: string;
  payload: unknown;
  attempts: number;
}

/** A destination as the worker needs it: secrets still encrypted. */
export interface DestinationTarget {
  id: number;
  url: string;
  verificationToken: string;
  signingSecret: string;
  headers: Array<{ key: string; value: string }>;
}

export interface AttemptOutcome {
  deliveryId: number;
  statusCode: number | null;
  latencyMs: number;
  error: string | null;
  /** Null on success; otherwise when to try again. */
  retryInMs: number | null;
}

/** The `deliveries` and `delivery_attempts` tables (see app/sql.ts for why raw SQL). */
@Injectable()
export class DeliveriesRepository {
  constructor(private readonly em: EntityManager) {}

  /**
   * One delivery per (audit event, matching destination): the event's top-level group's active
   * destinations plus the instance-level ones, filtered by event type. A redelivered Kafka message
   * hits the unique key and creates nothing. Returns how many deliveries are new.
   */
  async insertMatching(em: EntityManager, events: readonly AuditEvent[]): Promise<number> {
    if (events.length === 0) return 0;
    const records = events.map((event, ord) => ({
      ord,
      id: event.id,
      event_type: event.event_type,
      // Instance-scoped events (e.g. an instance-wide export) belong to no group: instance destinations only.
      root_path: event.entity_type === 'Instance' ? null : rootPathOf(event.entity_path),
      payload: event,
    }));
    const rows = await em.execute<Array<{ id: string }>>(
      `insert into deliveries (destination_id, audit_event_id, event_type, payload)
       select d.id, e.id, e.event_type, e.payload
         from jsonb_to_recordset(?::jsonb) as e(ord int, id uuid, event_type text, root_path text, payload jsonb)
         join destinations d
           on d.active
          and (d.group_id is null
               or d.group_id = (select n.id from namespaces n where n.kind = 'Group' and lower(n.full_path) = lower(e.root_path)))
          and (cardinality(d.event_type_filters) = 0 or e.event_type = any (d.event_type_filters))
        order by e.ord, d.id
       on conflict (destination_id, audit_event_id) do nothing
       returning id`,
      [json(records)],
    );
    return rows.length;
  }

  /**
   * Claims up to `limit` due deliveries of active destinations. The claim is a lease: pushing
   * next_attempt_at past the longest a send can take means a crash mid-send releases them by itself.
   */
  async claimDue(limit: number, leaseMs: number): Promise<ClaimedDelivery[]> {
    const rows = await this.em.fork().execute<Array<Record<string, unknown>>>(
      `with due as (
         select dl.id from deliveries dl
           join destinations d on d.id = dl.destination_id and d.active
          where dl.status in ('pending', 'failed') and dl.next_attempt_at <= now()
          order by dl.next_attempt_at, dl.id
          limit ?
          for update of dl skip locked
       )
       update deliveries dl set next_attempt_at = now() + ?::double precision * interval '1 millisecond'
         from due where dl.id = due.id
       returning dl.id, dl.destination_id, dl.audit_event_id, dl.event_type, dl.payload, dl.attempts`,
      [limit, leaseMs],
    );
    return rows.map((r) => ({
      id: toNumber(r['id']),
      destinationId: toNumber(r['destination_id']),
      auditEventId: String(r['audit_event_id']),
      eventType: String(r['event_type']),
      payload: r['payload'],
      attempts: Number(r['attempts']),
    }));
  }

  async loadTargets(destinationIds: readonly number[]): Promise<Map<number, DestinationTarget>> {
    const rows = await this.em.fork().execute<Array<Record<string, unknown>>>(
      `select d.id, d.destination_url, d.verification_token, d.signing_secret,
              coalesce(json_agg(json_build_object('key', h.key, 'value', h.value) order by h.id)
                       filter (where h.id is not null), '[]'::json) as headers
         from destinations d
         left join destination_headers h on h.destination_id = d.id
        where d.id in (select jsonb_array_elements_text(?::jsonb)::bigint)
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
          headers: r['headers'] as Array<{ key: string; value: string }>,
        },
      ]),
    );
  }

  /** Logs the attempt and moves the delivery to delivered or failed, atomically (one statement). */
  async recordAttempt(outcome: AttemptOutcome): Promise<void> {
    const delivered = outcome.retryInMs === null;
    await this.em.fork().execute(
      `with attempt as (
         insert into delivery_attempts (delivery_id, status_code, latency_ms, error) values (?, ?, ?, ?)
       )
       update deliveries
          set attempts = attempts + 1,
              status = ?,
              last_status_code = ?,
              last_error = ?,
              delivered_at = case when ? then now() else delivered_at end,
              next_attempt_at = case when ? then next_attempt_at else now() + ?::double precision * interval '1 millisecond' end
        where id = ?`,
      [
        outcome.deliveryId, outcome.statusCode, outcome.latencyMs, outcome.error,
        delivered ? 'delivered' : 'failed', outcome.statusCode, outcome.error,
        delivered, delivered, outcome.retryInMs ?? 0, outcome.deliveryId,
      ],
      'run',
    );
  }
}
