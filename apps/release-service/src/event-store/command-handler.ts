import { Injectable } from '@nestjs/common';
import { CommandMetadata, DomainEvent, DomainEventType, envelope, Scope } from '@audit/contracts';
import { Decider, fold } from '@audit/kernel';
import { isUniqueViolation, Sql, Statement } from '@audit/sql';
import { EventStore, streamIdOf, VersionConflictError } from './event-store.service';
import { IdAllocator, IdSequence } from './id-allocator';
import { WriteDatabase } from './write-database';

/** Where a command runs: its executor and the id of the stream it is about. */
export interface CommandContext {
  /** The command's own executor: a transaction for an existing stream, autocommit for a new one. */
  sql: Sql;
  /** The aggregate's id (the stream is `<aggregateType>-<id>`). */
  id: number;
  /** A fresh id of `sequence`, for an entity the command creates inside the aggregate (a link, an evidence). */
  nextId(sequence: IdSequence): Promise<number>;
}

/** What the command produced, handed to `result` on the command's own executor (inside its transaction). */
export interface CommandOutcome<S> extends CommandContext {
  /** The appended events, in their envelopes (empty when the decider decided nothing). */
  events: DomainEvent[];
  /** The aggregate's state after them. */
  state: S;
}

export interface CommandSpec<C, E extends { type: DomainEventType; data: unknown }, S, R> {
  decider: Decider<C, E, S>;
  /** The aggregate type: the first half of the stream id and `aggregate.type` of the envelopes. */
  aggregateType: string;
  /**
   * A new stream, its id taken from `sequence`: nothing to read, so the whole command is one
   * autocommitted statement. Or an existing stream, found by `find` inside the command's
   * transaction (which throws NotFoundError when there is none).
   */
  stream: { sequence: IdSequence } | { find: (sql: Sql) => Promise<number> };
  /** The scope of the envelopes (a function of the stream's id for a new stream that scopes itself); the caller has checked the principal's role on it. */
  scope: Scope | ((id: number) => Scope);
  meta: CommandMetadata;
  /** The command to decide, given the stream's id; may read on `ctx.sql` and take ids. */
  command: (ctx: CommandContext) => C | Promise<C>;
  /** The read-model writes of the appended events (`$n` placeholders), given the state after them. */
  project?: (events: DomainEvent[], state: S) => Statement[];
  /** Events `evolve` ignores: they count for the version but are not read. */
  skipTypes?: readonly string[];
  /** A unique violation of one of these constraints (a concurrent writer got there first) becomes its error. */
  uniqueViolations?: Readonly<Record<string, () => Error>>;
  /** How many times a version conflict is retried from the start (re-reading the stream) before it becomes a 409. */
  retries?: number;
  /** The command's answer, computed on its executor: inside the transaction, so it shows what this write produced. */
  result: (outcome: CommandOutcome<S>) => R | Promise<R>;
}

/**
 * The one routine of every command of the service: the stream's id (a new one from its sequence,
 * or the existing one found in the transaction), its state rebuilt from the events, the decider's
 * decision wrapped in envelopes (validated against the shared schemas), the append with the
 * expected version (events, outbox and read-model writes in one statement, the relay woken at
 * commit by the outbox), the retry of a version conflict, and the domain error of a unique
 * violation.
 */
@Injectable()
export class CommandHandler {
  constructor(
    private readonly db: WriteDatabase,
    private readonly store: EventStore,
    private readonly ids: IdAllocator,
  ) {}

  async handleCommand<C, E extends { type: DomainEventType; data: unknown }, S, R>(
    spec: CommandSpec<C, E, S, R>,
  ): Promise<R> {
    const { stream } = spec;
    for (let attempt = 0; ; attempt += 1) {
      try {
        if ('sequence' in stream) {
          // A stream just given a fresh id has no past: no read, no transaction, one statement.
          const id = await this.ids.next(stream.sequence);
          return await this.run(spec, this.db.autocommit, id, { version: 0, events: [] });
        }
        return await this.db.transaction(async (sql) => {
          const id = await stream.find(sql);
          return this.run(spec, sql, id);
        });
      } catch (err) {
        if (err instanceof VersionConflictError && attempt < (spec.retries ?? 0)) continue;
        for (const [constraint, error] of Object.entries(spec.uniqueViolations ?? {}))
          if (isUniqueViolation(err, constraint)) throw error();
        throw err;
      }
    }
  }

  private async run<C, E extends { type: DomainEventType; data: unknown }, S, R>(
    spec: CommandSpec<C, E, S, R>,
    sql: Sql,
    id: number,
    past?: { version: number; events: DomainEvent[] },
  ): Promise<R> {
    const context: CommandContext = { sql, id, nextId: (sequence) => this.ids.next(sequence) };
    const command = await spec.command(context);
    const streamId = streamIdOf(spec.aggregateType, id);
    const { version, events: history } = past ?? (await this.store.read(sql, streamId, spec.skipTypes));
    const state = fold(spec.decider, history as unknown as E[]);
    const decided = spec.decider.decide(command, state);
    const scope = typeof spec.scope === 'function' ? spec.scope(id) : spec.scope;
    const events = decided.map((e, i) =>
      envelope(
        e.type,
        e.data as never,
        { type: spec.aggregateType, id: String(id), version: version + i + 1 },
        scope,
        spec.meta,
      ),
    );
    const after = decided.reduce(spec.decider.evolve, state);
    await this.store.append(sql, streamId, version, events, spec.project?.(events, after) ?? []);
    return spec.result({ ...context, events, state: after });
  }
}
