import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { json, toIso, toIsoOrNull, toNumber } from '../app/sql';
import { DeliveriesQuery, DeliveryStatus, DeliveryView } from './destination.schemas';

/** A destination row; secrets still encrypted. */
export interface DestinationRow {
  id: number;
  groupId: number | null;
  name: string;
  url: string;
  verificationToken: string;
  eventTypeFilters: string[];
  active: boolean;
  createdAt: string;
  headers: Array<{ id: number; key: string; value: string }>;
}

export interface NewDestination {
  groupId: number;
  name: string;
  url: string;
  verificationToken: string;
  signingSecret: string;
  eventTypeFilters: string[];
}

const SELECT_DESTINATIONS = `
  select d.id, d.group_id, d.name, d.destination_url, d.verification_token, d.event_type_filters, d.active, d.created_at,
         coalesce(json_agg(json_build_object('id', h.id, 'key', h.key, 'value', h.value) order by h.id)
                  filter (where h.id is not null), '[]'::json) as headers
    from destinations d
    left join destination_headers h on h.destination_id = d.id`;

const toDestination = (r: Record<string, unknown>): DestinationRow => ({
  id: toNumber(r['id']),
  groupId: r['group_id'] === null ? null : toNumber(r['group_id']),
  name: String(r['name']),
  url: String(r['destination_url']),
  verificationToken: String(r['verification_token']),
  eventTypeFilters: r['event_type_filters'] as string[],
  active: Boolean(r['active']),
  createdAt: toIso(r['created_at']),
  headers: (r['headers'] as Array<{ id: unknown; key: string; value: string }>).map((h) => ({ ...h, id: toNumber(h.id) })),
});

/** `destinations`, `destination_headers` and the delivery log as the API sees them (app/sql.ts: why raw SQL). */
@Injectable()
export class DestinationsRepository {
  constructor(private readonly em: EntityManager) {}

  /** Inserts unless the group already has `limit` destinations (serialised per group); null when full. */
  async createWithin(limit: number, input: NewDestination): Promise<DestinationRow | null> {
    return this.em.fork().transactional(async (tx) => {
      await tx.execute(`select pg_advisory_xact_lock(hashtextextended('audit-streamer:destinations:' || ?::text, 0))`, [input.groupId]);
      const [{ count }] = await tx.execute<Array<{ count: number }>>(
        `select count(*)::int as count from destinations where group_id = ?`,
        [input.groupId],
      );
      if (count >= limit) return null;
      const [row] = await tx.execute<Array<{ id: string }>>(
        `insert into destinations (group_id, name, destination_url, verification_token, signing_secret, event_type_filters)
         values (?, ?, ?, ?, ?, array(select jsonb_array_elements_text(?::jsonb)))
         returning id`,
        [input.groupId, input.name, input.url, input.verificationToken, input.signingSecret, json(input.eventTypeFilters)],
      );
      return (await this.find(tx, toNumber(row.id))) as DestinationRow;
    });
  }

  async listForGroup(groupId: number): Promise<DestinationRow[]> {
    const rows = await this.em.fork().execute<Array<Record<string, unknown>>>(
      `${SELECT_DESTINATIONS} where d.group_id = ? group by d.id order by d.id`,
      [groupId],
    );
    return rows.map(toDestination);
  }

  async findForGroup(groupId: number, destinationId: number): Promise<DestinationRow | null> {
    const destination = await this.find(this.em.fork(), destinationId);
    return destination && destination.groupId === groupId ? destination : null;
  }

  /** Inserts unless the destination already has `limit` headers; null when full. Duplicate keys raise a unique violation. */
  async addHeaderWithin(limit: number, destinationId: number, key: string, encryptedValue: string): Promise<number | null> {
    return this.em.fork().transactional(async (tx) => {
      await tx.execute(`select id from destinations where id = ? for update`, [destinationId]);
      const [{ count }] = await tx.execute<Array<{ count: number }>>(
        `select count(*)::int as count from destination_headers where destination_id = ?`,
        [destinationId],
      );
      if (count >= limit) return null;
      const [row] = await tx.execute<Array<{ id: string }>>(
        `insert into destination_headers (destination_id, key, value) values (?, ?, ?) returning id`,
        [destinationId, key, encryptedValue],
      );
      return toNumber(row.id);
    });
  }

  /** Newest first, each with its attempt log. */
  async listDeliveries(destinationId: number, query: DeliveriesQuery): Promise<DeliveryView[]> {
    const rows = await this.em.fork().execute<Array<Record<string, unknown>>>(
      `select dl.*,
              coalesce((select json_agg(json_build_object('attempted_at', a.attempted_at, 'status_code', a.status_code,
                                                          'latency_ms', a.latency_ms, 'error', a.error) order by a.id)
                          from delivery_attempts a where a.delivery_id = dl.id), '[]'::json) as attempt_log
         from deliveries dl
        where dl.destination_id = ? and (?::text is null or dl.status = ?::text)
        order by dl.id desc
        limit ?`,
      [destinationId, query.status ?? null, query.status ?? null, query.per_page],
    );
    return rows.map((r) => ({
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
      attempt_log: (r['attempt_log'] as Array<{ attempted_at: string; status_code: number | null; latency_ms: number; error: string | null }>).map(
        (a) => ({ ...a, attempted_at: toIso(a.attempted_at) }),
      ),
    }));
  }

  private async find(em: EntityManager, id: number): Promise<DestinationRow | null> {
    const rows = await em.execute<Array<Record<string, unknown>>>(`${SELECT_DESTINATIONS} where d.id = ? group by d.id`, [id]);
    return rows[0] ? toDestination(rows[0]) : null;
  }
}
