import { Injectable, Logger } from '@nestjs/common';
import { ChainHead, linkEvents } from '@audit/audit-chain';
import { AuditEvent } from '@audit/contracts';
import { Database } from '@audit/platform';
import { Sql } from '@audit/sql';
import { AuditEventsRepository } from '../audit-events/audit-events.repository';

/** A chunk that moved no head in this many tries is left to the consumer's retry (the chunk is redelivered). */
const MAX_TRIES = 8;

const pgCode = (err: unknown): string | undefined => (err as { code?: string }).code;

/**
 * Appends audit events to their chain (docs/architecture.md, "Integrity: the hash chain"). One chain per
 * consumed partition: the partition's one consumer appends to it in order, so each chain grows without
 * coordination with the others, and the recorder's throughput still scales with partitions.
 *
 * The heads are kept in memory and moved by compare-and-set in the statement that appends; the fast path is
 * that one statement. The rare paths, each followed by a new try with the chunk linked again:
 * - the head moved under us (another recorder appended to the chain: a rebalance this one has not seen yet):
 *   the head is read again;
 * - an event was stored already (a redelivered chunk, or a message the relay sent twice): the stored events
 *   are dropped from the chunk, which is linked again, so a redelivery never forks or doubles a chain;
 * - an event's month has no partition yet: it is created.
 */
@Injectable()
export class ChainWriter {
  private readonly logger = new Logger(ChainWriter.name);
  private readonly heads = new Map<string, ChainHead>();

  constructor(
    private readonly database: Database,
    private readonly auditEvents: AuditEventsRepository,
  ) {}

  /**
   * Stores the events not stored yet, appended to `chain` in order, and returns their ids. `payloads` are the
   * events' JSON texts (index for index). `alsoInTransaction`, when given, runs first in the same transaction
   * (the namespaces read model); without it the append is one autocommitted statement.
   */
  async append(
    chain: string,
    events: AuditEvent[],
    payloads: string[],
    alsoInTransaction?: (tx: Sql) => Promise<void>,
  ): Promise<string[]> {
    // The same event twice in one chunk (a message the relay sent twice, both in this chunk): once.
    const seen = new Set<string>();
    const unique = events.map((_, i) => i).filter((i) => !seen.has(events[i].id) && seen.add(events[i].id));
    let toStore = unique.length === events.length ? events : unique.map((i) => events[i]);
    let texts = unique.length === events.length ? payloads : unique.map((i) => payloads[i]);
    for (let attempt = 1; ; attempt++) {
      if (toStore.length === 0) {
        if (alsoInTransaction) await this.database.transaction((tx) => alsoInTransaction(tx));
        return [];
      }
      const head = this.heads.get(chain) ?? (await this.auditEvents.headOf(chain));
      const { links, head: next } = linkEvents(head, texts);
      try {
        const moved = alsoInTransaction
          ? await this.database.transaction(async (tx) => {
              await alsoInTransaction(tx);
              return this.auditEvents.appendChained(tx, head, next, toStore, texts, links);
            })
          : await this.auditEvents.appendChained(this.database.autocommit, head, next, toStore, texts, links);
        if (moved) {
          this.heads.set(chain, next);
          return toStore.map((e) => e.id);
        }
        this.heads.delete(chain);
        this.logger.warn({ chain, seq: head.seq }, 'chain head moved by another writer: reading it again');
      } catch (err) {
        this.heads.delete(chain);
        if (pgCode(err) === '23505') {
          const stored = await this.auditEvents.storedIds(this.database.autocommit, toStore);
          const kept = toStore.map((_, i) => i).filter((i) => !stored.has(toStore[i].id));
          if (kept.length === toStore.length) throw err; // a conflict on something else: let the chunk be retried
          toStore = kept.map((i) => toStore[i]);
          texts = kept.map((i) => texts[i]);
        } else if (pgCode(err) === '23514' && /no partition/i.test((err as Error).message)) {
          const created = await this.auditEvents.ensurePartitions(toStore.map((e) => e.created_at));
          this.logger.log({ created }, 'created the partitions of new months');
        } else {
          throw err;
        }
      }
      if (attempt >= MAX_TRIES) throw new Error(`chain ${chain}: no append after ${MAX_TRIES} tries`);
    }
  }
}
