import { AUDIT_EVENT_TYPES, AuditEventTypeRegistry } from '@audit/audit-registry';
import { CommandMetadata } from '@audit/contracts';
import { NamespacesRepository } from '@audit/namespaces';
import { APP_CONFIG, NotFoundError, OrmTransaction, ValidationError } from '@audit/platform';
import { isUniqueViolation } from '@audit/sql';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { AuditStreamerConfig } from '../config';
import { SecretBox } from '../crypto/secret-box';
import { DestinationChanges } from './destination-changes';
import {
  destinationCreated,
  destinationDeactivated,
  destinationDeleted,
  destinationUpdated,
  groupScope,
  INSTANCE_SCOPE,
  signingSecretRotated,
  STREAMER_ACTOR,
} from './destination-events';
import {
  CreateDestinationInput,
  DestinationView,
  DestinationWithSecretView,
  isNumericId,
  RotatedSecretView,
  UpdateDestinationInput,
} from './destination.schemas';
import { DestinationRow, DestinationsRepository } from './destinations.repository';
import { DestinationOwner } from './group-access.service';
import { defaultDestinationName, generateSigningSecret, generateVerificationToken } from './secrets';
import { DestinationUrlCheck } from './url-check.service';

/** A unique violation of `work` as a 400 on `field`: duplicates are bad input, named like any other rule. */
export async function refuseDuplicate<T>(field: string, message: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isUniqueViolation(err)) throw new ValidationError(`${field} ${message}`, [{ field, message }]);
    throw err;
  }
}

/**
 * Streaming destinations of a top-level group or of the instance: create, read, update, delete,
 * signing-secret rotation, and deactivation by the delivery side. Each change is an audit event.
 */
@Injectable()
export class DestinationsService {
  private readonly logger = new Logger(DestinationsService.name);

  constructor(
    private readonly repository: DestinationsRepository,
    private readonly changes: DestinationChanges,
    private readonly urlCheck: DestinationUrlCheck,
    private readonly secrets: SecretBox,
    private readonly namespaces: NamespacesRepository,
    @Inject(AUDIT_EVENT_TYPES) private readonly registry: AuditEventTypeRegistry,
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
  ) {}

  async create(
    owner: DestinationOwner,
    input: CreateDestinationInput,
    meta: CommandMetadata,
  ): Promise<DestinationWithSecretView> {
    const filters = this.checkFilters(input.event_type_filters ?? []);
    const url = await this.urlCheck.check(input.destination_url);
    const name = input.name ?? defaultDestinationName();
    const signingSecret = generateSigningSecret();
    const limit = this.config.STREAMING_MAX_DESTINATIONS_PER_GROUP;
    const created = await refuseDuplicate('name', `is already used by another destination here: ${name}`, () =>
      this.changes.commit(async (tx) => {
        if ((await this.repository.countLockedForOwner(tx, owner.groupId)) >= limit) {
          const message = `the limit of ${limit} streaming destinations is reached${owner.groupId === null ? ' for the instance' : ' for this group'}`;
          throw new ValidationError(message, [{ field: 'destinations', message }]);
        }
        const row = await this.repository.insert(tx, {
          groupId: owner.groupId,
          name,
          url,
          verificationToken: this.secrets.encrypt(generateVerificationToken()),
          signingSecret: this.secrets.encrypt(signingSecret),
          eventTypeFilters: filters,
        });
        return { result: row, events: [destinationCreated(row, { scope: owner.scope, meta })] };
      }),
    );
    this.logger.log(
      { destinationId: created.id, groupId: owner.groupId, userId: meta.actor.id },
      'streaming destination created',
    );
    return { ...this.view(created), signing_secret: signingSecret };
  }

  async list(owner: DestinationOwner): Promise<DestinationView[]> {
    return (await this.repository.listForOwner(owner.groupId)).map((d) => this.view(d));
  }

  async get(owner: DestinationOwner, destinationId: string): Promise<DestinationView> {
    return this.view(await this.destinationOf(owner, destinationId));
  }

  async update(
    owner: DestinationOwner,
    destinationId: string,
    input: UpdateDestinationInput,
    meta: CommandMetadata,
  ): Promise<DestinationView> {
    const current = await this.destinationOf(owner, destinationId);
    const url = input.destination_url === undefined ? undefined : await this.urlCheck.check(input.destination_url);
    const eventTypeFilters =
      input.event_type_filters === undefined ? undefined : this.checkFilters(input.event_type_filters);
    const updated = await refuseDuplicate('name', `is already used by another destination here: ${input.name}`, () =>
      this.changes.commit(async (tx) => {
        const before = await this.lockedIn(tx, owner, current.id);
        const after = await this.repository.update(tx, before.id, {
          name: input.name,
          url,
          eventTypeFilters,
          active: input.active,
        });
        return { result: after, events: [destinationUpdated(before, after, { scope: owner.scope, meta })] };
      }),
    );
    this.logger.log(
      { destinationId: updated.id, groupId: owner.groupId, userId: meta.actor.id },
      'streaming destination updated',
    );
    return this.view(updated);
  }

  async remove(owner: DestinationOwner, destinationId: string, meta: CommandMetadata): Promise<void> {
    const current = await this.destinationOf(owner, destinationId);
    await this.changes.commit(async (tx) => {
      const before = await this.lockedIn(tx, owner, current.id);
      await this.repository.remove(tx, before.id);
      return { result: undefined, events: [destinationDeleted(before, { scope: owner.scope, meta })] };
    });
    this.logger.log(
      { destinationId: current.id, groupId: owner.groupId, userId: meta.actor.id },
      'streaming destination deleted',
    );
  }

  /** A new secret now; the previous one keeps signing for STREAMING_SECRET_GRACE_PERIOD_MS. */
  async rotateSecret(
    owner: DestinationOwner,
    destinationId: string,
    meta: CommandMetadata,
  ): Promise<RotatedSecretView> {
    const current = await this.destinationOf(owner, destinationId);
    const signingSecret = generateSigningSecret();
    const previousExpiresAt = new Date(meta.now.getTime() + this.config.STREAMING_SECRET_GRACE_PERIOD_MS);
    await this.changes.commit(async (tx) => {
      const before = await this.lockedIn(tx, owner, current.id);
      await this.repository.rotateSecret(tx, before.id, this.secrets.encrypt(signingSecret), previousExpiresAt);
      return {
        result: undefined,
        events: [signingSecretRotated(before, previousExpiresAt, { scope: owner.scope, meta })],
      };
    });
    this.logger.log(
      { destinationId: current.id, groupId: owner.groupId, userId: meta.actor.id },
      'streaming signing secret rotated',
    );
    return { signing_secret: signingSecret, previous_secret_expires_at: previousExpiresAt.toISOString() };
  }

  /**
   * For the delivery side (410 Gone, failing for too long): sets the destination inactive and records
   * StreamingDestinationDeactivated, in one transaction. Idempotent: an inactive or deleted destination
   * is left alone and no event is written.
   */
  async deactivate(destinationId: number, reason: string): Promise<void> {
    const done = await this.changes.commit(async (tx) => {
      const before = await this.repository.findLocked(tx, destinationId);
      if (!before || !before.active) return { result: false, events: [] };
      await this.repository.deactivate(tx, before.id, reason.slice(0, 500));
      const scope =
        before.groupId === null
          ? INSTANCE_SCOPE
          : groupScope(
              before.groupId,
              (await this.namespaces.find('Group', String(before.groupId)))?.full_path ?? `group-${before.groupId}`,
            );
      const meta = { actor: STREAMER_ACTOR, correlationId: randomUUID(), now: new Date() };
      return { result: true, events: [destinationDeactivated(before, reason, { scope, meta })] };
    });
    if (done) this.logger.warn({ destinationId, reason }, 'streaming destination deactivated');
  }

  /** The owner's destination named by a path id, or a 404 (also for another owner's destination). */
  async destinationOf(owner: DestinationOwner, destinationId: string): Promise<DestinationRow> {
    const destination = isNumericId(destinationId)
      ? await this.repository.findForOwner(owner.groupId, Number(destinationId))
      : null;
    if (!destination) throw new NotFoundError('Streaming destination not found');
    return destination;
  }

  /** The destination again, locked for `tx`: it may have been deleted since it was first read. */
  async lockedIn(tx: OrmTransaction, owner: DestinationOwner, destinationId: number): Promise<DestinationRow> {
    const destination = await this.repository.findLocked(tx, destinationId);
    if (!destination || destination.groupId !== owner.groupId)
      throw new NotFoundError('Streaming destination not found');
    return destination;
  }

  view(d: DestinationRow): DestinationView {
    return {
      id: d.id,
      name: d.name,
      destination_url: d.url,
      verification_token: this.secrets.decrypt(d.verificationToken),
      event_type_filters: d.eventTypeFilters,
      active: d.active,
      deactivated_at: d.deactivatedAt,
      deactivated_reason: d.deactivatedReason,
      headers: d.headers.map((h) => ({ id: h.id, key: h.key, value: this.secrets.decrypt(h.value) })),
      created_at: d.createdAt,
      updated_at: d.updatedAt,
    };
  }

  private checkFilters(filters: string[]): string[] {
    const unknown = filters.filter((f) => !this.registry.has(f));
    if (unknown.length > 0) {
      const message = `contains unknown audit event types: ${unknown.join(', ')}`;
      throw new ValidationError(`event_type_filters ${message}`, [{ field: 'event_type_filters', message }]);
    }
    return [...new Set(filters)].sort();
  }
}
