/**
 * audit_events rows written by the benchmarks themselves, as the recorder writes them since issue 16
 * (apps/audit-recorder/src/migrations/Migration20261128000001.ts): a table partitioned by UTC month of
 * created_at, every row a link of a hash chain (chain_id, chain_seq, prev_hash, hash; libs/audit/chain).
 *
 * - ChainAppender: the bare baselines' append (recorder, e2e floor): one statement per batch inserting
 *   the rows with their chain fields and moving the chain's head row by compare-and-set, the statement
 *   shape of AuditEventsRepository.appendChained; the links are computed by linkEvents, in the caller's loop.
 * - ChainSeeder and friends: bulk seeding by SQL (recorder-query, recorder-exports, verify) with valid
 *   chains, the hashes computed by PostgreSQL in the inserting statement (a window aggregate over sha256),
 *   so that millions of rows are seeded without their text ever leaving the database.
 * - signingKeyFile: an Ed25519 key for a recorder run (AUDIT_SIGNING_KEY_FILE), so a benchmark can sign
 *   checkpoints the recorder verifies, and NODE_ENV=production starts.
 */
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { ChainHead, emptyHead, linkEvents, SigningKey, signingKeyFromPem } from '../../libs/audit/chain/src';

/** What runs a statement: a pg Client or Pool. */
export interface Queryable {
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    text: string,
    values?: unknown[],
  ): Promise<{ rows: R[]; rowCount: number | null }>;
}

/**
 * $1–$11: the eleven columns the baselines always wrote (payload as json[], each element's text kept as
 * sent, which is what is hashed); $12–$14 the links (seq, prev_hash and hash in hex); $15 the chain; $16
 * its head's seq before, $17 and $18 after. Nothing is inserted unless the head row was at $16.
 */
const CHAINED_INSERT = `with head as (
    update audit_chain_heads set seq = $17, hash = decode($18, 'hex'), updated_at = now() where chain = $15 and seq = $16
    returning 1
  ), appended as (
    insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id,
                              created_at, payload, chain_id, chain_seq, prev_hash, hash)
    select r.id, r.event_type, r.author_id, r.author_name, r.entity_type, r.entity_id, r.entity_path, r.target_type, r.target_id,
           r.created_at, r.payload, $15, r.seq, decode(r.prev_hash, 'hex'), decode(r.hash, 'hex')
      from unnest($1::uuid[], $2::text[], $3::bigint[], $4::text[], $5::text[], $6::bigint[], $7::text[], $8::text[], $9::bigint[],
                  $10::timestamptz[], $11::json[], $12::bigint[], $13::text[], $14::text[])
        as r(id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload,
             seq, prev_hash, hash)
     where exists (select 1 from head)
    returning 1
  )
  select count(*)::int as appended from appended`;

/**
 * Appends batches to chains for a bare baseline, as the recorder's ChainWriter does on its fast path:
 * heads kept in memory (each chain has one writer: the consumer of its partition), the links computed
 * here, then one statement. A chain's head row is created (seq 0) the first time it is used.
 */
export class ChainAppender {
  private readonly heads = new Map<string, ChainHead>();

  constructor(private readonly pg: Queryable) {}

  /**
   * `columns`: id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type,
   * target_id, created_at, payload (the JSON texts), one array each, index for index. Returns the rows stored.
   */
  async append(chain: string, columns: unknown[][]): Promise<number> {
    const texts = columns[10] as string[];
    if (texts.length === 0) return 0;
    let head = this.heads.get(chain);
    if (!head) {
      head = emptyHead(chain);
      await this.pg.query(
        `insert into audit_chain_heads (chain, seq, hash) values ($1, 0, decode($2, 'hex')) on conflict (chain) do nothing`,
        [chain, head.hash],
      );
    }
    const { links, head: next } = linkEvents(head, texts);
    const seqs = new Array<number>(links.length);
    const prevs = new Array<string>(links.length);
    const hashes = new Array<string>(links.length);
    for (let i = 0; i < links.length; i++) {
      seqs[i] = links[i].seq;
      prevs[i] = links[i].prevHash.toString('hex');
      hashes[i] = links[i].hash.toString('hex');
    }
    const { rows } = await this.pg.query<{ appended: number }>(CHAINED_INSERT, [
      ...columns,
      seqs,
      prevs,
      hashes,
      chain,
      head.seq,
      next.seq,
      next.hash,
    ]);
    const appended = rows[0]?.appended ?? 0;
    // Only this appender writes its chains: a head that moved elsewhere is a bug of the benchmark.
    if (appended !== texts.length) throw new Error(`chain ${chain}: ${appended} of ${texts.length} rows appended`);
    this.heads.set(chain, next);
    return appended;
  }
}

/** The first day (YYYY-MM-01) of every UTC month from `fromMs` to `toMs`, both included. */
export function monthsBetween(fromMs: number, toMs: number): string[] {
  const months: string[] = [];
  const from = new Date(fromMs);
  // Date.UTC rolls a month index of 12 over into the next year.
  for (let m = 0; ; m++) {
    const start = new Date(Date.UTC(from.getUTCFullYear(), from.getUTCMonth() + m, 1));
    if (start.getTime() > toMs) return months;
    months.push(start.toISOString().slice(0, 10));
  }
}

/**
 * Creates the months of [fromMs, toMs] that have no partition yet, through the table's own function
 * (the recorder's migration, or AUDIT_EVENTS_DDL's copy); a table without it (a build from before the
 * partitioning, BENCH_SERVICE_ROOT) needs none. Returns the partitions created.
 */
export async function ensureMonths(pg: Queryable, fromMs: number, toMs: number): Promise<number> {
  const { rows } = await pg.query<{ fn: string | null }>(
    `select to_regprocedure('audit_events_ensure_partitions(date[])')::text as fn`,
  );
  if (!rows[0]?.fn) return 0;
  const months = monthsBetween(fromMs, toMs);
  let created = 0;
  for (let i = 0; i < months.length; i += 240) {
    const res = await pg.query<{ n: number }>('select audit_events_ensure_partitions($1::date[]) as n', [
      months.slice(i, i + 240),
    ]);
    created += res.rows[0]?.n ?? 0;
  }
  return created;
}

/** Whether audit_events has the chain columns (false: a build from before issue 16, BENCH_SERVICE_ROOT). */
export async function hasChainColumns(pg: Queryable): Promise<boolean> {
  const { rows } = await pg.query<{ yes: boolean }>(
    `select exists (select 1 from information_schema.columns
                     where table_schema = current_schema() and table_name = 'audit_events' and column_name = 'chain_id') as yes`,
  );
  return rows[0]?.yes === true;
}

/**
 * Drops audit_events' primary key and secondary indexes for a bulk seed; the returned function builds
 * them again from their own definitions (several times faster than maintaining the b-trees row by row).
 * On a partitioned table pg_indexes says `ON ONLY`, which would create the parent's index alone, invalid
 * and without its partitions' indexes: the definitions are run without `ONLY`.
 */
export async function dropAuditEventIndexes(pg: Queryable): Promise<() => Promise<void>> {
  const indexes = (
    await pg.query<{ indexname: string; indexdef: string }>(
      `select indexname, indexdef from pg_indexes
        where schemaname = current_schema() and tablename = 'audit_events' and indexname <> 'audit_events_pkey'`,
    )
  ).rows;
  const [pkey] = (
    await pg.query<{ def: string }>(
      `select pg_get_constraintdef(oid) as def from pg_constraint
        where conrelid = 'audit_events'::regclass and conname = 'audit_events_pkey'`,
    )
  ).rows;
  for (const ix of indexes) await pg.query(`drop index ${ix.indexname}`);
  if (pkey) await pg.query('alter table audit_events drop constraint audit_events_pkey');
  return async () => {
    if (pkey) await pg.query(`alter table audit_events add constraint audit_events_pkey ${pkey.def}`);
    for (const ix of indexes) await pg.query(ix.indexdef.replace(/ ON ONLY /i, ' ON '));
  };
}

// The seeder's aggregate: the running hash of a chain, its first state the hash the chain continues from.
const SEED_FUNCTIONS = `
  create or replace function bench_chain_step(state bytea, start bytea, seq bigint, json text) returns bytea
    language sql immutable as $$ select sha256(coalesce(state, start) || int8send(seq) || convert_to(json, 'UTF8')) $$;
  drop aggregate if exists bench_chain_hash(bytea, bigint, text);
  create aggregate bench_chain_hash(bytea, bigint, text) (sfunc = bench_chain_step, stype = bytea);`;
const DROP_SEED_FUNCTIONS = `drop aggregate if exists bench_chain_hash(bytea, bigint, text);
  drop function if exists bench_chain_step(bytea, bytea, bigint, text);`;

/** The columns a seeding select must name, in any order; `chain` indexes the seeder's chains, from 0. */
export const SEED_COLUMNS =
  'i, id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload, chain';

const INSERTED = `id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id, created_at, payload`;

/**
 * Seeds rows by SQL with valid hash chains. Each `insert` runs a select naming SEED_COLUMNS (`i` orders the
 * rows of a chain: the order of its positions; `payload` a `json` value, whose text is stored and hashed as
 * it is); the statement numbers each chain's rows after its head, hashes them in order (hash = sha256(prev ||
 * int8send(seq) || payload text), the design's per-row check), and moves the heads, so slices continue their
 * chains. `finish` stores the heads in audit_chain_heads, as the recorder leaves them, and drops the
 * aggregate. On a table without chain columns (an older build) the rows are inserted without them.
 */
export class ChainSeeder {
  private readonly chained: Promise<boolean>;
  private installed = false;
  readonly heads: ChainHead[];

  constructor(
    private readonly pg: Queryable,
    readonly chains: readonly string[],
  ) {
    this.chained = hasChainColumns(pg);
    this.heads = chains.map(emptyHead);
  }

  async insert(rowsSql: string, params: unknown[]): Promise<void> {
    if (!(await this.chained)) {
      await this.pg.query(
        `insert into audit_events (${INSERTED}, recorded_at) select ${INSERTED}, created_at from (${rowsSql}) s`,
        params,
      );
      return;
    }
    if (!this.installed) {
      await this.pg.query(SEED_FUNCTIONS);
      this.installed = true;
    }
    const n = params.length;
    const { rows } = await this.pg.query<{ chain: number; chain_seq: string; hash: string }>(
      `with src as materialized (${rowsSql}),
       heads as (
         select (h.ord - 1)::int as chain, h.name, h.seq0, decode(h.hash, 'hex') as start
           from unnest($${n + 1}::text[], $${n + 2}::bigint[], $${n + 3}::text[]) with ordinality as h(name, seq0, hash, ord)),
       numbered as (
         select s.*, h.name as chain_id, h.start, h.seq0 + row_number() over (partition by s.chain order by s.i) as chain_seq
           from src s join heads h on h.chain = s.chain),
       hashed as (
         select n.*, bench_chain_hash(n.start, n.chain_seq, n.payload::text) over (partition by n.chain order by n.i) as hash
           from numbered n),
       linked as materialized (
         select h.*, coalesce(lag(h.hash) over (partition by h.chain order by h.i), h.start) as prev_hash from hashed h),
       inserted as (
         insert into audit_events (${INSERTED}, recorded_at, chain_id, chain_seq, prev_hash, hash)
         select ${INSERTED}, created_at, chain_id, chain_seq, prev_hash, hash from linked)
       select distinct on (chain) chain, chain_seq, encode(hash, 'hex') as hash from linked order by chain, chain_seq desc`,
      [...params, this.chains, this.heads.map((h) => h.seq), this.heads.map((h) => h.hash)],
    );
    for (const r of rows) this.heads[r.chain] = { chain: this.chains[r.chain], seq: Number(r.chain_seq), hash: r.hash };
  }

  /** Stores the heads (chains that got rows) and drops the seeding functions; returns those heads. */
  async finish(): Promise<ChainHead[]> {
    if (this.installed) await this.pg.query(DROP_SEED_FUNCTIONS);
    this.installed = false;
    if (!(await this.chained)) return [];
    const heads = this.heads.filter((h) => h.seq > 0);
    await this.pg.query(
      `insert into audit_chain_heads (chain, seq, hash)
       select chain, seq, decode(hash, 'hex') from unnest($1::text[], $2::bigint[], $3::text[]) as h(chain, seq, hash)
       on conflict (chain) do update set seq = excluded.seq, hash = excluded.hash, updated_at = now()`,
      [heads.map((h) => h.chain), heads.map((h) => h.seq), heads.map((h) => h.hash)],
    );
    return heads;
  }
}

/** A fresh Ed25519 key written to `file` (PKCS#8 PEM), for AUDIT_SIGNING_KEY_FILE. */
export function signingKeyFile(file: string): SigningKey {
  const { privateKey } = generateKeyPairSync('ed25519');
  const pem = privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  writeFileSync(file, pem, { mode: 0o600 });
  return signingKeyFromPem(pem);
}
