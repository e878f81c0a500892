import { rootPathOf } from '@audit/audit-mapping';
import type { AuditEvent } from '@audit/contracts';
import { Sql } from '@audit/sql';
import { Injectable } from '@nestjs/common';
import type { ClaimedDelivery } from '../dispatch/dispatch.repository';
import { toNumber } from '../sql';

/** A delivery just created by the consumer; `leased` ones are handed straight to the local worker. */
export interface InsertedDelivery extends ClaimedDelivery {
  leased: boolean;
}

/** The fan-out of audit events to `deliveries`: the only insert of deliveries. */
@Injectable()
export class IngestRepository {
  /**
   * One delivery per (audit event, matching destination): the event's top-level group's active
   * destinations plus the instance-level ones, filtered by event type. A redelivered Kafka message
   * hits the unique key and creates nothing. Returns the new deliveries. Runs on `sql`, the
   * caller's transaction or autocommit.
   *
   * A new delivery to a healthy destination (not paused or probing, and not in `saturated`, whose
   * local queue is full; `'all'`: none) is leased at insert for `leaseMs`: the caller hands it straight to this
   * process's worker, so a first attempt costs no claim query and no lease write. The others are
   * left to the claim (DispatchRepository.claimDue), as retries are.
   */
  async insertMatching(
    sql: Sql,
    events: readonly AuditEvent[],
    lease: { leaseMs: number; saturated: readonly number[] | 'all' },
    /** The trace context each event's delivery continues (by audit event id), with tracing on. */
    traces: ReadonlyMap<string, string> = new Map(),
  ): Promise<InsertedDelivery[]> {
    if (events.length === 0) return [];
    const ids = events.map((e) => e.id);
    const types = events.map((e) => e.event_type);
    // Instance-scoped events (e.g. an instance-wide export) belong to no group: instance destinations only.
    const roots = events.map((e) => (e.entity_type === 'Instance' ? null : rootPathOf(e.entity_path)));
    const payloads = `[${events.map((e) => JSON.stringify(e)).join(',')}]`;
    const traceparents = traces.size === 0 ? null : events.map((e) => traces.get(e.id) ?? null);
    const rows = await sql.query<Record<string, unknown>>(
      `with e as (
         select * from rows from (unnest($1::uuid[]), unnest($2::text[]), unnest($3::text[]), json_array_elements($4::json))
                with ordinality as e(id, event_type, root_path, payload, ord)
       ), ins as (
         insert into deliveries (destination_id, audit_event_id, event_type, payload, leased_until, traceparent)
         select d.id, e.id, e.event_type, e.payload,
                case when coalesce(h.pause_level, 0) = 0 and (h.paused_until is null or h.paused_until <= now())
                          and $5::boolean and not (d.id = any ($6::bigint[]))
                     then now() + $7::double precision * interval '1 millisecond' end,
                ($8::text[])[e.ord]
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
        traceparents,
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
        traceparent: traces.get(event.id) ?? null,
        leased: r['leased'] === true,
      };
    });
  }
}
