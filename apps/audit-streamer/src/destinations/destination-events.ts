import { CommandMetadata, DomainEvent, envelope, Scope } from '@audit/contracts';

/*
 * The domain events of streaming configuration changes, pure: the destination before and after, the
 * scope and the request's metadata in, envelopes out. No token, secret or header value is ever put in.
 */

/** What an event needs of a destination. */
export interface DestinationFacts {
  id: number;
  name: string;
  url: string;
  eventTypeFilters: string[];
  active: boolean;
}

export interface HeaderFacts {
  id: number;
  key: string;
}

/** Where the event belongs (the destination's group, or the instance) and who did it, when, from where. */
export interface ChangeContext {
  scope: Scope;
  meta: CommandMetadata;
}

/** The scope of instance-level destinations (docs/contracts.md: entity_id 1, entity_path `instance`). */
export const INSTANCE_SCOPE: Scope = { entity_type: 'Instance', entity_id: 1, entity_path: 'instance' };

export const groupScope = (groupId: number, fullPath: string): Scope => ({
  entity_type: 'Group',
  entity_id: groupId,
  entity_path: fullPath,
});

/** The streamer itself, as the actor of what it does on its own (deactivating a failing destination). */
export const STREAMER_ACTOR = { id: 0, name: 'audit-streamer', ip_address: null };

const ref = (d: DestinationFacts) => ({ destination_id: d.id, destination_name: d.name, destination_url: d.url });
const aggregate = (d: DestinationFacts) => ({ type: 'StreamingDestination', id: String(d.id), version: 1 });
const sameList = (a: string[], b: string[]) => a.length === b.length && a.every((v, i) => v === b[i]);

export const destinationCreated = (d: DestinationFacts, ctx: ChangeContext): DomainEvent =>
  envelope(
    'StreamingDestinationCreated',
    { ...ref(d), event_type_filters: d.eventTypeFilters },
    aggregate(d),
    ctx.scope,
    ctx.meta,
  );

/** Null when nothing changed: a PATCH that sets what is already there is not an event. */
export function destinationUpdated(
  before: DestinationFacts,
  after: DestinationFacts,
  ctx: ChangeContext,
): DomainEvent | null {
  const changes = {
    ...(before.name !== after.name && { name: { from: before.name, to: after.name } }),
    ...(before.url !== after.url && { destination_url: { from: before.url, to: after.url } }),
    ...(!sameList(before.eventTypeFilters, after.eventTypeFilters) && {
      event_type_filters: { from: before.eventTypeFilters, to: after.eventTypeFilters },
    }),
    ...(before.active !== after.active && { active: { from: before.active, to: after.active } }),
  };
  if (Object.keys(changes).length === 0) return null;
  return envelope('StreamingDestinationUpdated', { ...ref(after), changes }, aggregate(after), ctx.scope, ctx.meta);
}

export const destinationDeleted = (d: DestinationFacts, ctx: ChangeContext): DomainEvent =>
  envelope('StreamingDestinationDeleted', ref(d), aggregate(d), ctx.scope, ctx.meta);

export const destinationDeactivated = (d: DestinationFacts, reason: string, ctx: ChangeContext): DomainEvent =>
  envelope(
    'StreamingDestinationDeactivated',
    { ...ref(d), reason: reason.slice(0, 500) || 'unspecified' },
    aggregate(d),
    ctx.scope,
    ctx.meta,
  );

export const signingSecretRotated = (d: DestinationFacts, previousExpiresAt: Date, ctx: ChangeContext): DomainEvent =>
  envelope(
    'StreamingSigningSecretRotated',
    { ...ref(d), previous_secret_expires_at: previousExpiresAt.toISOString() },
    aggregate(d),
    ctx.scope,
    ctx.meta,
  );

export const headerCreated = (d: DestinationFacts, h: HeaderFacts, ctx: ChangeContext): DomainEvent =>
  envelope('StreamingHeaderCreated', { ...ref(d), header_id: h.id, key: h.key }, aggregate(d), ctx.scope, ctx.meta);

/** Null when neither the key nor the value changed. The value is compared by the caller and only named here. */
export function headerUpdated(
  d: DestinationFacts,
  before: HeaderFacts,
  afterKey: string,
  valueChanged: boolean,
  ctx: ChangeContext,
): DomainEvent | null {
  const keyChanged = before.key !== afterKey;
  if (!keyChanged && !valueChanged) return null;
  return envelope(
    'StreamingHeaderUpdated',
    {
      ...ref(d),
      header_id: before.id,
      key: afterKey,
      ...(keyChanged && { key_change: { from: before.key, to: afterKey } }),
      value_changed: valueChanged,
    },
    aggregate(d),
    ctx.scope,
    ctx.meta,
  );
}

export const headerDeleted = (d: DestinationFacts, h: HeaderFacts, ctx: ChangeContext): DomainEvent =>
  envelope('StreamingHeaderDeleted', { ...ref(d), header_id: h.id, key: h.key }, aggregate(d), ctx.scope, ctx.meta);
