import { DomainEvent, DomainEventSchemas, isDomainEventType } from './domain-event-types';

/** Why a message could not become a domain event; the DLQ carries this as its reason. */
export type RejectReason = 'unparseable' | 'unknown_type' | 'schema_invalid';

export type ParseResult = { ok: true; event: DomainEvent } | { ok: false; reason: RejectReason; error: string };

/** Validates any value against the schema of its declared type. */
export function validateDomainEvent(value: unknown): ParseResult {
  const type = (value as { type?: unknown } | null)?.type;
  if (!isDomainEventType(type)) {
    return { ok: false, reason: 'unknown_type', error: `unknown domain event type: ${String(type).slice(0, 100)}` };
  }
  const parsed = DomainEventSchemas[type].safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    return { ok: false, reason: 'schema_invalid', error: issues.join('; ').slice(0, 1000) };
  }
  return { ok: true, event: parsed.data as DomainEvent };
}

/** Parses the raw bytes of a Kafka message into a validated domain event. */
export function parseDomainEvent(bytes: Buffer | string | null | undefined): ParseResult {
  if (bytes === null || bytes === undefined) {
    return { ok: false, reason: 'unparseable', error: 'empty message value' };
  }
  let value: unknown;
  try {
    value = JSON.parse(typeof bytes === 'string' ? bytes : bytes.toString('utf8'));
  } catch (err) {
    return { ok: false, reason: 'unparseable', error: `not JSON: ${(err as Error).message}` };
  }
  return validateDomainEvent(value);
}
