import { Inject, Injectable } from '@nestjs/common';
import { DomainEvent } from '@audit/contracts';
import { APP_CONFIG } from '@audit/platform';
import { Sql, Statement, withStatements } from '@audit/sql';
import { Telemetry } from '@audit/telemetry';
import { OUTBOX_CHANNEL, OutboxConfig, outboxInsert } from './outbox';
import { OutboxRelay } from './outbox-relay.service';

export interface AppendOptions {
  /**
   * Statements that must commit with the events (the event store's insert, read-model writes): run in
   * the same round trip, as data-modifying CTEs of one statement.
   */
  alongside?: readonly Statement[];
  /** The events' JSON texts when the caller has them already (the event store stores the same text). */
  payloads?: readonly string[];
}

/**
 * The one way to put domain events in the outbox: inside the caller's transaction (whatever `sql`
 * is bound to), with a NOTIFY that wakes the relay of every instance at commit, and a wake-up of
 * this instance's relay once the write is durable. An event is published if and only if it was
 * committed.
 */
@Injectable()
export class Outbox {
  constructor(
    @Inject(APP_CONFIG) private readonly config: Pick<OutboxConfig, 'KAFKA_TOPIC'>,
    private readonly relay: OutboxRelay,
    private readonly telemetry: Telemetry,
  ) {}

  async append(sql: Sql, events: readonly DomainEvent[], options: AppendOptions = {}): Promise<void> {
    if (events.length === 0) return;
    // The rows carry the trace of the work that wrote them (the HTTP request's span, with tracing on).
    const traceparent = this.telemetry.tracing.traceparent() ?? null;
    const insert = outboxInsert(this.config.KAFKA_TOPIC, events, options.payloads, traceparent);
    const statement = withStatements([...(options.alongside ?? []), insert], {
      text: `select pg_notify('${OUTBOX_CHANNEL}', '')`,
      params: [],
    });
    await sql.query(statement.text, statement.params);
    sql.afterCommit(() => this.relay.wake());
  }
}
