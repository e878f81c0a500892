/** An outbox row as the relay reads it (bigint ids arrive as strings from pg). */
export interface OutboxRow {
  id: string;
  topic: string;
  message_key: string;
  payload: unknown;
  /** The W3C trace context of the write that appended the row (null: tracing was off). */
  traceparent: string | null;
  /** How long the row has waited, measured by PostgreSQL's clock. */
  age_ms: string;
}

export interface OutboxMessage {
  topic: string;
  key: string;
  value: string;
  /** `traceparent`, when the row has one: the trace goes on in the consumers. */
  headers?: Record<string, string>;
}

export const BATCH_ROWS = 500;
/**
 * Kafka refuses a record batch above `message.max.bytes` (1 MiB by default) for a partition, and
 * one refused batch would stall the relay; half of that for a whole pass leaves room for overhead.
 */
export const BATCH_BYTES = 512 * 1024;

export const OLDEST_UNPUBLISHED = `
  select id, topic, message_key, payload, traceparent,
         (extract(epoch from clock_timestamp() - created_at) * 1000)::bigint as age_ms
    from outbox where published_at is null order by id limit $1`;

/** What one pass sends: a prefix of the oldest unpublished rows, frozen until Kafka acknowledged it. */
export interface OutboxBatch {
  ids: string[];
  messages: OutboxMessage[];
  /** Whether rows were left for a next pass. */
  more: boolean;
  /** Age of the oldest row when read, and when that was (Date.now()), for the lag figure. */
  oldestAgeMs: number;
  readAt: number;
}

/**
 * The longest prefix of `rows` (oldest first) within `maxBytes`, never empty when rows are there:
 * a prefix, so rows are still sent in id order, and at least one row, so a large one is not
 * skipped (it goes alone). Null when there is nothing to send.
 */
export function takeBatch(rows: OutboxRow[], maxBytes = BATCH_BYTES, limit = BATCH_ROWS): OutboxBatch | null {
  if (rows.length === 0) return null;
  const ids: string[] = [];
  const messages: OutboxMessage[] = [];
  let bytes = 0;
  for (const row of rows) {
    const value = JSON.stringify(row.payload);
    bytes += Buffer.byteLength(value) + Buffer.byteLength(row.message_key);
    if (messages.length > 0 && bytes > maxBytes) break;
    ids.push(row.id);
    const message: OutboxMessage = { topic: row.topic, key: row.message_key, value };
    if (row.traceparent) message.headers = { traceparent: row.traceparent };
    messages.push(message);
  }
  const more = rows.length >= limit || ids.length < rows.length;
  return { ids, messages, more, oldestAgeMs: Number(rows[0].age_ms), readAt: Date.now() };
}
