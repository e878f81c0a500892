import { Injectable } from '@nestjs/common';
import { ChainHead, ChainLink, emptyHead } from '@audit/audit-chain';
import { AuditEvent } from '@audit/contracts';
import { Database } from '@audit/platform';
import { Sql } from '@audit/sql';
import { CursorPosition } from './audit-event-cursor';
import { AuditEventSearch, AuditScope, searchStatement } from './audit-events.sql';

/** One page in order; `next` is the position after its last row when more rows match. */
export interface AuditEventPage {
  events: AuditEvent[];
  next?: CursorPosition;
}

/**
 * Storage of audit events. Appends are the consumer's hot path, so a chunk goes as one statement,
 * `unnest` over bound column arrays, that also moves its chain's head (ChainWriter).
 */
@Injectable()
export class AuditEventsRepository {
  constructor(private readonly database: Database) {}

  /**
   * Appends `events` to a chain in one statement, through `sql`: the caller's transaction (with the
   * namespaces read model) or an autocommitting executor (a chunk without namespace changes, no BEGIN/COMMIT).
   * The chain's head row moves from `head` to `next` in the same statement, only if it is still at `head.seq`
   * (compare-and-set): false when another writer moved it first (a recorder that lost the partition and has
   * not noticed yet), and then nothing was written. `links` are linkEvents(head, payloads).links and `payloads`
   * the events' JSON texts, hashed as they are stored (`json` keeps its text).
   *
   * Throws PostgreSQL's 23505 when an event is already stored (a redelivery: the caller drops the stored ones
   * and links the rest again) and 23514 when an event's month has no partition yet.
   */
  async appendChained(
    sql: Sql,
    head: ChainHead,
    next: ChainHead,
    events: AuditEvent[],
    payloads: string[],
    links: ChainLink[],
  ): Promise<boolean> {
    if (events.length === 0) return true;
    const columns: unknown[][] = Array.from({ length: 13 }, () => new Array<unknown>(events.length));
    events.forEach((e, i) => {
      const link = links[i];
      const row = [
        e.id,
        e.event_type,
        e.author_id,
        e.author_name,
        e.entity_type,
        e.entity_id,
        e.entity_path,
        e.target_type,
        e.target_id,
        e.created_at,
        link.seq,
        link.prevHash.toString('hex'),
        link.hash.toString('hex'),
      ];
      for (let c = 0; c < row.length; c++) columns[c][i] = row[c];
    });
    // Bound parameters, not one JSON text formatted into the SQL: column arrays, and the payloads as
    // one JSON array (joined, not escaped element by element as a text[] would be), zipped by
    // position with ROWS FROM. json_array_elements returns each element's text as it was sent.
    const [result] = await sql.query<{ appended: number }>(
      `with head as (
         update audit_chain_heads set seq = $15, hash = decode($16, 'hex'), updated_at = now()
          where chain = $14 and seq = $17
         returning 1
       ), appended as (
         insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type,
                                   target_id, created_at, payload, chain_id, chain_seq, prev_hash, hash)
         select r.id, r.event_type, r.author_id, r.author_name, r.entity_type, r.entity_id, r.entity_path, r.target_type,
                r.target_id, r.created_at, r.payload, $14, r.seq, decode(r.prev_hash, 'hex'), decode(r.hash, 'hex')
           from rows from (unnest($1::uuid[]), unnest($2::text[]), unnest($3::bigint[]), unnest($4::text[]), unnest($5::text[]),
                  unnest($6::bigint[]), unnest($7::text[]), unnest($8::text[]), unnest($9::bigint[]), unnest($10::timestamptz[]),
                  unnest($11::bigint[]), unnest($12::text[]), unnest($13::text[]), json_array_elements($18::json))
             as r(id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at,
                  seq, prev_hash, hash, payload)
          where exists (select 1 from head)
         returning 1
       )
       select count(*)::int as appended from appended`,
      [...columns, head.chain, next.seq, next.hash, head.seq, `[${payloads.join(',')}]`],
    );
    return (result?.appended ?? 0) > 0;
  }

  /** The chain's head, created empty (seq 0, genesis hash) the first time a chain is used. */
  async headOf(chain: string): Promise<ChainHead> {
    const empty = emptyHead(chain);
    await this.database.autocommit.query(
      `insert into audit_chain_heads (chain, seq, hash) values ($1, 0, decode($2, 'hex')) on conflict (chain) do nothing`,
      [chain, empty.hash],
    );
    const [row] = await this.database.autocommit.query<{ seq: string; hash: string }>(
      `select seq, encode(hash, 'hex') as hash from audit_chain_heads where chain = $1`,
      [chain],
    );
    return { chain, seq: Number(row.seq), hash: row.hash };
  }

  /** Which of `events` are stored already (by id, within their created_at range, so only their months are read). */
  async storedIds(sql: Sql, events: AuditEvent[]): Promise<Set<string>> {
    if (events.length === 0) return new Set();
    let min = events[0].created_at;
    let max = min;
    for (const e of events) {
      if (e.created_at < min) min = e.created_at;
      if (e.created_at > max) max = e.created_at;
    }
    const rows = await sql.query<{ id: string }>(
      'select id from audit_events where id = any($1::uuid[]) and created_at between $2 and $3',
      [events.map((e) => e.id), min, max],
    );
    return new Set(rows.map((r) => r.id));
  }

  /** Creates the UTC months of `createdAt` values that have no partition yet (through the owner's function). */
  async ensurePartitions(createdAt: Iterable<string | Date>): Promise<number> {
    const months = [...new Set([...createdAt].map((t) => `${new Date(t).toISOString().slice(0, 7)}-01`))];
    let created = 0;
    for (let i = 0; i < months.length; i += 240) {
      const [row] = await this.database.autocommit.query<{ created: number }>(
        'select audit_events_ensure_partitions($1::date[]) as created',
        [months.slice(i, i + 240)],
      );
      created += row?.created ?? 0;
    }
    return created;
  }

  async findById(id: string): Promise<AuditEvent | null> {
    const rows = await this.database.autocommit.query<{ payload: AuditEvent }>(
      'select payload from audit_events where id = $1',
      [id],
    );
    return rows[0]?.payload ?? null;
  }

  /**
   * A group and everything under it in the namespaces read model, by parent links (ids, so the
   * case or a later change of a path does not matter).
   */
  async treeOf(groupId: number): Promise<Extract<AuditScope, { kind: 'entities' }>> {
    const rows = await this.database.autocommit.query<{ kind: 'Group' | 'Project'; id: string }>(
      `with recursive tree_groups(id) as (
         select $1::bigint
         union
         select n.id from namespaces n join tree_groups g on n.parent_id = g.id where n.kind = 'Group'
       )
       select 'Group' as kind, id from tree_groups
       union all
       select 'Project', n.id from namespaces n join tree_groups g on n.parent_id = g.id where n.kind = 'Project'`,
      [groupId],
    );
    const ids = (kind: string) => rows.filter((r) => r.kind === kind).map((r) => Number(r.id));
    return { kind: 'entities', groupIds: ids('Group'), projectIds: ids('Project') };
  }

  /** The first `search.limit` matching rows after `search.after`; one extra row is read to know if more exist. */
  async findPage(search: AuditEventSearch): Promise<AuditEventPage> {
    const { text, params } = searchStatement({ ...search, limit: search.limit + 1 });
    const rows = await this.database.autocommit.query<{ payload: AuditEvent; cursor_at: string; id: string }>(
      text,
      params,
    );
    const page = rows.slice(0, search.limit);
    const last = page[page.length - 1];
    return {
      events: page.map((r) => r.payload),
      next: rows.length > search.limit && last ? { createdAt: last.cursor_at, id: last.id } : undefined,
    };
  }
}
