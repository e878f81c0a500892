import { DomainEvent, messageKeyFor } from '@audit/contracts';
import { Statement } from '@audit/sql';
import { z } from 'zod';

/*
 * The transactional outbox every producer of domain events shares: a table written in the same
 * transaction as the change it records, a NOTIFY that wakes the relay at commit, and the relay
 * (OutboxRelay) that publishes the rows to Kafka in order, from one instance at a time.
 */

/** The NOTIFY channel a write to the outbox signals on; the relay LISTENs to it. */
export const OUTBOX_CHANNEL = 'outbox_appended';

/** The outbox table; each service's migrations create it in that service's own database. */
export const OUTBOX_TABLE_DDL = [
  `create table outbox (
     id bigserial primary key,
     event_id uuid not null unique,
     topic text not null,
     message_key text not null,
     payload jsonb not null,
     created_at timestamptz not null default now(),
     published_at timestamptz null
   );`,
  'create index outbox_unpublished on outbox (id) where published_at is null;',
];

/**
 * The W3C trace context of the write that appended a row (issue: one trace from the HTTP request to the
 * SIEM): the relay sends it as the message's `traceparent` header. Added after OUTBOX_TABLE_DDL, by each
 * service's own migration.
 */
export const OUTBOX_TRACEPARENT_DDL = 'alter table outbox add column if not exists traceparent text null;';

/** Configuration the relay reads; services spread `outboxConfigShape` into their schema. */
export const outboxConfigShape = {
  /** Fallback poll of the outbox relay; a NOTIFY at every commit wakes it, this only bounds a missed one. */
  OUTBOX_POLL_INTERVAL_MS: z.coerce.number().int().min(50).max(60000).default(1000),
  /**
   * How long a published row stays in the outbox (for inspection) before the relay deletes it; 7 days
   * by default. 0 deletes rows as soon as a prune runs after their publication.
   */
  OUTBOX_RETENTION_MS: z.coerce.number().int().min(0).max(31_536_000_000).default(604_800_000),
  /** How often the leading relay prunes published rows past the retention. */
  OUTBOX_PRUNE_INTERVAL_MS: z.coerce.number().int().min(100).max(86_400_000).default(60_000),
};
export interface OutboxConfig {
  KAFKA_TOPIC: string;
  DATABASE_URL: string;
  DATABASE_NAME: string;
  SHUTDOWN_TIMEOUT_MS: number;
  OUTBOX_POLL_INTERVAL_MS: number;
  OUTBOX_RETENTION_MS: number;
  OUTBOX_PRUNE_INTERVAL_MS: number;
}

/** Rows deleted per prune statement: short statements, so a large backlog never holds locks for long. */
export const PRUNE_BATCH_ROWS = 5000;

/**
 * Of the `$2` oldest rows (by id, through the primary key), those published before the retention:
 * each statement reads at most `$2` rows, however large the outbox. The relay publishes in id order
 * and prunes oldest first, so the oldest rows are the oldest published ones; an unpublished row is
 * never deleted.
 */
export const PRUNE_PUBLISHED = `delete from outbox where id in (
  select id from (select id, published_at from outbox order by id limit $2) oldest
   where published_at is not null and published_at < now() - $1::bigint * interval '1 millisecond')`;

/**
 * The INSERT of `events` into the outbox, with `$n` placeholders (composable with other statements); every
 * row gets `traceparent` (the trace of the write), one parameter for all.
 */
export function outboxInsert(
  topic: string,
  events: readonly DomainEvent[],
  payloads: readonly string[] = events.map((e) => JSON.stringify(e)),
  traceparent: string | null = null,
): Statement {
  const trace = `$${events.length * 4 + 1}`;
  return {
    text: `insert into outbox (event_id, topic, message_key, payload, traceparent) values ${events.map((_, i) => `($${i * 4 + 1}, $${i * 4 + 2}, $${i * 4 + 3}, $${i * 4 + 4}, ${trace}::text)`).join(', ')}`,
    params: [...events.flatMap((e, i) => [e.id, topic, messageKeyFor(e.scope), payloads[i]]), traceparent],
  };
}
