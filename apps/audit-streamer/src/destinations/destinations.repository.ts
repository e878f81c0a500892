import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { json, toIso, toIsoOrNull, toNumber } from '../app/sql';
import { SecretBox } from '../crypto/secret-box';
import { activeSigningSecrets } from './secrets';

/** A destination row; secrets still encrypted. `groupId` null: an instance-level destination. */
export interface DestinationRow {
  id: number;
  groupId: number | null;
  name: string;
  url: string;
  verificationToken: string;
  eventTypeFilters: string[];
  active: boolean;
  deactivatedAt: string | null;
  deactivatedReason: string | null;
  createdAt: string;
  updatedAt: string;
  headers: Array<{ id: number; key: string; value: string }>;
}

export interface NewDestination {
  groupId: number | null;
  name: string;
  url: string;
  verificationToken: string;
  signingSecret: string;
  eventTypeFilters: string[];
}

export interface DestinationPatch {
  name?: string;
  url?: string;
  eventTypeFilters?: string[];
  active?: boolean;
}

const SELECT_DESTINATIONS = `
  select d.id, d.group_id, d.name, d.destination_url, d.verification_token, d.event_type_filters, d.active,
         d.deactivated_at, d.deactivated_reason, d.created_at, d.updated_at,
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
  deactivatedAt: toIsoOrNull(r['deactivated_at']),
  deactivatedReason: (r['deactivated_reason'] as string | null) ?? null,
  createdAt: toIso(r['created_at']),
  updatedAt: toIso(r['updated_at']),
  headers: (r['headers'] as Array<{ id: unknown; key: string; value: string }>).map((h) => ({
    ...h,
    id: toNumber(h.id),
  })),
});

/**
 * `destinations` and `destination_headers` as the API sees them (app/sql.ts: why raw
 * SQL). Writes take the caller's transaction, so a change and its outbox row commit together.
 */
@Injectable()
export class DestinationsRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly secrets: SecretBox,
  ) {}

  transactional<T>(work: (tx: EntityManager) => Promise<T>): Promise<T> {
    return this.em.fork().transactional(work);
  }

  /** Serialises creations per owner (a group, or the instance), so the limit holds under concurrency. */
  async countLockedForOwner(tx: EntityManager, groupId: number | null): Promise<number> {
    await tx.execute(`select pg_advisory_xact_lock(hashtextextended('audit-streamer:destinations:' || ?::text, 0))`, [
      groupId ?? 'instance',
    ]);
    const [{ count }] = await tx.execute<Array<{ count: number }>>(
      `select count(*)::int as count from destinations where group_id is not distinct from ?::bigint`,
      [groupId],
    );
    return count;
  }

  async insert(tx: EntityManager, input: NewDestination): Promise<DestinationRow> {
    const [row] = await tx.execute<Array<{ id: string }>>(
      `insert into destinations (group_id, name, destination_url, verification_token, signing_secret, event_type_filters)
       values (?, ?, ?, ?, ?, array(select jsonb_array_elements_text(?::jsonb)))
       returning id`,
      [
        input.groupId,
        input.name,
        input.url,
        input.verificationToken,
        input.signingSecret,
        json(input.eventTypeFilters),
      ],
    );
    return (await this.find(tx, toNumber(row.id))) as DestinationRow;
  }

  async listForOwner(groupId: number | null): Promise<DestinationRow[]> {
    const rows = await this.em
      .fork()
      .execute<Array<Record<string, unknown>>>(
        `${SELECT_DESTINATIONS} where d.group_id is not distinct from ?::bigint group by d.id order by d.id`,
        [groupId],
      );
    return rows.map(toDestination);
  }

  async findForOwner(groupId: number | null, destinationId: number): Promise<DestinationRow | null> {
    const destination = await this.find(this.em.fork(), destinationId);
    return destination && destination.groupId === groupId ? destination : null;
  }

  /**
   * The group of a group-level destination (null for an unknown or instance-level one): GraphQL names
   * a destination by its global id alone, and this lets the request go through GroupAccess like REST.
   */
  async groupOfDestination(destinationId: number): Promise<number | null> {
    const rows = await this.em
      .fork()
      .execute<Array<{ group_id: unknown }>>(
        'select group_id from destinations where id = ? and group_id is not null',
        [destinationId],
      );
    return rows[0] ? toNumber(rows[0].group_id) : null;
  }

  /** The destination and group of a header of a group-level destination; null when unknown. */
  async ownerOfHeader(headerId: number): Promise<{ destinationId: number; groupId: number } | null> {
    const rows = await this.em.fork().execute<Array<{ destination_id: unknown; group_id: unknown }>>(
      `select h.destination_id, d.group_id
         from destination_headers h join destinations d on d.id = h.destination_id
        where h.id = ? and d.group_id is not null`,
      [headerId],
    );
    return rows[0] ? { destinationId: toNumber(rows[0].destination_id), groupId: toNumber(rows[0].group_id) } : null;
  }

  /** Locks the row for the rest of `tx` (concurrent changes of one destination queue up), then reads it. */
  async findLocked(tx: EntityManager, destinationId: number): Promise<DestinationRow | null> {
    const locked = await tx.execute(`select id from destinations where id = ? for update`, [destinationId]);
    return locked.length === 0 ? null : this.find(tx, destinationId);
  }

  async update(tx: EntityManager, id: number, patch: DestinationPatch): Promise<DestinationRow> {
    const filters = patch.eventTypeFilters ? json(patch.eventTypeFilters) : null;
    await tx.execute(
      `update destinations
          set name = coalesce(?, name),
              destination_url = coalesce(?, destination_url),
              event_type_filters = case when ?::jsonb is null then event_type_filters
                                        else array(select jsonb_array_elements_text(?::jsonb)) end,
              active = coalesce(?, active),
              deactivated_at = case when ?::boolean then null else deactivated_at end,
              deactivated_reason = case when ?::boolean then null else deactivated_reason end,
              updated_at = now()
        where id = ?`,
      [
        patch.name ?? null,
        patch.url ?? null,
        filters,
        filters,
        patch.active ?? null,
        patch.active === true,
        patch.active === true,
        id,
      ],
      'run',
    );
    return (await this.find(tx, id)) as DestinationRow;
  }

  async remove(tx: EntityManager, id: number): Promise<void> {
    await tx.execute(`delete from destinations where id = ?`, [id], 'run');
  }

  /** The current secret becomes the previous one, valid until `previousExpiresAt`. */
  async rotateSecret(tx: EntityManager, id: number, encryptedSecret: string, previousExpiresAt: Date): Promise<void> {
    await tx.execute(
      `update destinations
          set previous_signing_secret = signing_secret, previous_signing_secret_expires_at = ?,
              signing_secret = ?, updated_at = now()
        where id = ?`,
      [previousExpiresAt, encryptedSecret, id],
      'run',
    );
  }

  /** Sets an active destination inactive; false when it was inactive already (or is gone). */
  async deactivate(tx: EntityManager, id: number, reason: string): Promise<boolean> {
    const rows = await tx.execute(
      `update destinations set active = false, deactivated_at = now(), deactivated_reason = ?, updated_at = now()
        where id = ? and active returning id`,
      [reason, id],
    );
    return rows.length > 0;
  }

  /** The full path of a group from the namespaces read model, for the scope of an event about its destination. */
  async groupPath(tx: EntityManager, groupId: number): Promise<string | null> {
    const rows = await tx.execute<Array<{ full_path: string }>>(
      `select full_path from namespaces where kind = 'Group' and id = ?`,
      [groupId],
    );
    return rows[0]?.full_path ?? null;
  }

  async countHeaders(tx: EntityManager, destinationId: number): Promise<number> {
    const [{ count }] = await tx.execute<Array<{ count: number }>>(
      `select count(*)::int as count from destination_headers where destination_id = ?`,
      [destinationId],
    );
    return count;
  }

  /** A duplicate key (case-insensitive) raises a unique violation. */
  async insertHeader(tx: EntityManager, destinationId: number, key: string, encryptedValue: string): Promise<number> {
    const [row] = await tx.execute<Array<{ id: string }>>(
      `insert into destination_headers (destination_id, key, value) values (?, ?, ?) returning id`,
      [destinationId, key, encryptedValue],
    );
    return toNumber(row.id);
  }

  async updateHeader(
    tx: EntityManager,
    headerId: number,
    key: string | undefined,
    encryptedValue: string | undefined,
  ): Promise<void> {
    await tx.execute(
      `update destination_headers set key = coalesce(?, key), value = coalesce(?, value), updated_at = now() where id = ?`,
      [key ?? null, encryptedValue ?? null, headerId],
      'run',
    );
  }

  async removeHeader(tx: EntityManager, headerId: number): Promise<void> {
    await tx.execute(`delete from destination_headers where id = ?`, [headerId], 'run');
  }

  /**
   * The secrets a delivery is signed with, decrypted: the current one first, then the previous one
   * while its grace period lasts. Standard Webhooks allows several space-separated `v1,` signatures.
   */
  async signingSecretsFor(destinationId: number, now: Date = new Date()): Promise<string[]> {
    return (await this.signingSecretsForMany([destinationId], now)).get(destinationId) ?? [];
  }

  /** signingSecretsFor of several destinations in one query (a delivery batch spans destinations). */
  async signingSecretsForMany(
    destinationIds: readonly number[],
    now: Date = new Date(),
  ): Promise<Map<number, string[]>> {
    const rows = await this.em.fork().execute<Array<Record<string, unknown>>>(
      `select id, signing_secret, previous_signing_secret, previous_signing_secret_expires_at
         from destinations where id in (select jsonb_array_elements_text(?::jsonb)::bigint)`,
      [json([...new Set(destinationIds)])],
    );
    return new Map(
      rows.map((r) => {
        const previous = r['previous_signing_secret'] as string | null;
        const secrets = activeSigningSecrets(
          {
            current: this.secrets.decrypt(String(r['signing_secret'])),
            previous: previous === null ? null : this.secrets.decrypt(previous),
          },
          toIsoOrNull(r['previous_signing_secret_expires_at']),
          now,
        );
        return [toNumber(r['id']), secrets];
      }),
    );
  }

  private async find(em: EntityManager, id: number): Promise<DestinationRow | null> {
    const rows = await em.execute<Array<Record<string, unknown>>>(
      `${SELECT_DESTINATIONS} where d.id = ? group by d.id`,
      [id],
    );
    return rows[0] ? toDestination(rows[0]) : null;
  }
}
