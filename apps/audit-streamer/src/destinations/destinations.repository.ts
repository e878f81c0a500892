import { OrmTransaction } from '@audit/platform';
import { Sql } from '@audit/sql';
import { LockMode, raw } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { toIso, toIsoOrNull } from '../sql';
import { SecretBox } from '../crypto/secret-box';
import { DestinationEntity, DestinationHeaderEntity } from './destination.entities';
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

const toDestination = (d: DestinationEntity): DestinationRow => ({
  id: d.id,
  groupId: d.groupId,
  name: d.name,
  url: d.url,
  verificationToken: d.verificationToken,
  eventTypeFilters: [...d.eventTypeFilters],
  active: d.active,
  deactivatedAt: toIsoOrNull(d.deactivatedAt),
  deactivatedReason: d.deactivatedReason,
  createdAt: toIso(d.createdAt),
  updatedAt: toIso(d.updatedAt),
  headers: d.headers.getItems().map((h) => ({ id: h.id, key: h.key, value: h.value })),
});

/** The database's clock, as the columns' defaults use it (assigned to an entity, reloaded at flush). */
const now = (): Date => raw('now()');

/**
 * `destinations` and `destination_headers` as the API sees them: plain CRUD through the entities
 * (destination.entities.ts). Writes run in `tx`, the caller's transaction (DestinationChanges), and
 * are flushed at once, so a change and its outbox rows commit together in statement order; reads on
 * their own use a fork of the entity manager.
 */
@Injectable()
export class DestinationsRepository {
  constructor(
    private readonly em: EntityManager,
    private readonly secrets: SecretBox,
  ) {}

  /** Serialises creations per owner (a group, or the instance), so the limit holds under concurrency. */
  async countLockedForOwner(tx: Sql, groupId: number | null): Promise<number> {
    await tx.query(`select pg_advisory_xact_lock(hashtextextended('audit-streamer:destinations:' || $1::text, 0))`, [
      groupId ?? 'instance',
    ]);
    const [{ count }] = await tx.query<{ count: number }>(
      `select count(*)::int as count from destinations where group_id is not distinct from $1::bigint`,
      [groupId],
    );
    return count;
  }

  async insert(tx: OrmTransaction, input: NewDestination): Promise<DestinationRow> {
    const destination = tx.em.create(DestinationEntity, {
      groupId: input.groupId,
      name: input.name,
      url: input.url,
      verificationToken: input.verificationToken,
      signingSecret: input.signingSecret,
      eventTypeFilters: input.eventTypeFilters,
    });
    await tx.em.flush();
    return toDestination(destination);
  }

  async listForOwner(groupId: number | null): Promise<DestinationRow[]> {
    const destinations = await this.em
      .fork()
      .find(DestinationEntity, { groupId }, { populate: ['headers'], orderBy: { id: 'asc' } });
    return destinations.map(toDestination);
  }

  async findForOwner(groupId: number | null, destinationId: number): Promise<DestinationRow | null> {
    const destination = await this.em
      .fork()
      .findOne(DestinationEntity, { id: destinationId }, { populate: ['headers'] });
    return destination && destination.groupId === groupId ? toDestination(destination) : null;
  }

  /**
   * The group of a group-level destination (null for an unknown or instance-level one): GraphQL names
   * a destination by its global id alone, and this lets the request go through GroupAccess like REST.
   */
  async groupOfDestination(destinationId: number): Promise<number | null> {
    const destination = await this.em
      .fork()
      .findOne(DestinationEntity, { id: destinationId, groupId: { $ne: null } }, { fields: ['groupId'] });
    return destination?.groupId ?? null;
  }

  /** The destination and group of a header of a group-level destination; null when unknown. */
  async ownerOfHeader(headerId: number): Promise<{ destinationId: number; groupId: number } | null> {
    const header = await this.em
      .fork()
      .findOne(
        DestinationHeaderEntity,
        { id: headerId, destination: { groupId: { $ne: null } } },
        { populate: ['destination'] },
      );
    return header ? { destinationId: header.destination.id, groupId: header.destination.groupId as number } : null;
  }

  /** Locks the row for the rest of `tx` (concurrent changes of one destination queue up), then reads it. */
  async findLocked(tx: OrmTransaction, destinationId: number): Promise<DestinationRow | null> {
    const destination = await this.lockedEntity(tx, destinationId);
    return destination ? toDestination(destination) : null;
  }

  async update(tx: OrmTransaction, id: number, patch: DestinationPatch): Promise<DestinationRow> {
    const destination = await this.loadedEntity(tx, id);
    if (patch.name !== undefined) destination.name = patch.name;
    if (patch.url !== undefined) destination.url = patch.url;
    if (patch.eventTypeFilters !== undefined) destination.eventTypeFilters = patch.eventTypeFilters;
    if (patch.active !== undefined) destination.active = patch.active;
    if (patch.active === true) {
      destination.deactivatedAt = null;
      destination.deactivatedReason = null;
    }
    destination.updatedAt = now();
    await tx.em.flush();
    return toDestination(destination);
  }

  async remove(tx: OrmTransaction, id: number): Promise<void> {
    // Its headers and deliveries go with it (on delete cascade).
    tx.em.remove(await this.loadedEntity(tx, id));
    await tx.em.flush();
  }

  /** The current secret becomes the previous one, valid until `previousExpiresAt`. */
  async rotateSecret(tx: OrmTransaction, id: number, encryptedSecret: string, previousExpiresAt: Date): Promise<void> {
    const destination = await this.loadedEntity(tx, id);
    destination.previousSigningSecret = destination.signingSecret;
    destination.previousSigningSecretExpiresAt = previousExpiresAt;
    destination.signingSecret = encryptedSecret;
    destination.updatedAt = now();
    await tx.em.flush();
  }

  /** Sets an active destination (locked by findLocked in `tx`) inactive; false when it was inactive already (or is gone). */
  async deactivate(tx: OrmTransaction, id: number, reason: string): Promise<boolean> {
    const destination = await tx.em.findOne(DestinationEntity, { id });
    if (!destination || !destination.active) return false;
    destination.active = false;
    destination.deactivatedAt = now();
    destination.deactivatedReason = reason;
    destination.updatedAt = now();
    await tx.em.flush();
    return true;
  }

  async countHeaders(tx: OrmTransaction, destinationId: number): Promise<number> {
    return tx.em.count(DestinationHeaderEntity, { destination: destinationId });
  }

  /** A duplicate key (case-insensitive) raises a unique violation. */
  async insertHeader(tx: OrmTransaction, destinationId: number, key: string, encryptedValue: string): Promise<number> {
    const header = tx.em.create(DestinationHeaderEntity, {
      destination: tx.em.getReference(DestinationEntity, destinationId),
      key,
      value: encryptedValue,
    });
    await tx.em.flush();
    return header.id;
  }

  async updateHeader(
    tx: OrmTransaction,
    headerId: number,
    key: string | undefined,
    encryptedValue: string | undefined,
  ): Promise<void> {
    const header = await tx.em.findOneOrFail(DestinationHeaderEntity, headerId);
    if (key !== undefined) header.key = key;
    if (encryptedValue !== undefined) header.value = encryptedValue;
    header.updatedAt = now();
    await tx.em.flush();
  }

  async removeHeader(tx: OrmTransaction, headerId: number): Promise<void> {
    tx.em.remove(await tx.em.findOneOrFail(DestinationHeaderEntity, headerId));
    await tx.em.flush();
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
    const destinations = await this.em
      .fork()
      .find(
        DestinationEntity,
        { id: { $in: [...new Set(destinationIds)] } },
        { fields: ['signingSecret', 'previousSigningSecret', 'previousSigningSecretExpiresAt'] },
      );
    return new Map(
      destinations.map((d) => {
        const secrets = activeSigningSecrets(
          {
            current: this.secrets.decrypt(d.signingSecret),
            previous: d.previousSigningSecret === null ? null : this.secrets.decrypt(d.previousSigningSecret),
          },
          toIsoOrNull(d.previousSigningSecretExpiresAt),
          now,
        );
        return [d.id, secrets];
      }),
    );
  }

  /** The destination with its headers, locked for the rest of `tx`; null when it is gone. */
  private async lockedEntity(tx: OrmTransaction, id: number): Promise<DestinationEntity | null> {
    const destination = await tx.em.findOne(
      DestinationEntity,
      { id },
      { lockMode: LockMode.PESSIMISTIC_WRITE, refresh: true },
    );
    if (destination) await tx.em.populate(destination, ['headers'], { refresh: true });
    return destination;
  }

  /** The destination `tx` locked earlier (findLocked): from its identity map. */
  private loadedEntity(tx: OrmTransaction, id: number): Promise<DestinationEntity> {
    return tx.em.findOneOrFail(DestinationEntity, { id });
  }
}
