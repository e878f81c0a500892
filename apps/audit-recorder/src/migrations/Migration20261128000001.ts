import { Migration } from '@mikro-orm/migrations';

/*
 * Integrity and retention (docs/architecture.md, "Integrity: the hash chain" and "Retention").
 *
 * - audit_events becomes a table partitioned by UTC month of created_at (audit_events_yYYYYmMM), so that
 *   retention drops whole months instead of deleting rows; the existing rows move into it.
 * - Every row gets its place in a hash chain: chain_id, chain_seq, prev_hash, hash (libs/audit/chain). Rows
 *   stored before this migration form the chain `legacy`, in the order they were recorded.
 * - audit_chain_heads: each chain's last link, moved forward in the statement that appends to the chain.
 * - audit_checkpoints: the signed checkpoints; audit_purges: what each purge removed; audit_log_files: the
 *   JSON log files closed by rotation, with their SHA-256, until a checkpoint includes them.
 * - Two SECURITY DEFINER functions are the running service's only way to change the table's shape:
 *   audit_events_ensure_partitions (creates months) and audit_events_purge (drops whole months older than
 *   the current one, recording what it dropped). The running role has no DDL and no UPDATE, DELETE or
 *   TRUNCATE on the table or its partitions.
 */
export class Migration20261128000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table audit_chain_heads (
        chain text primary key,
        seq bigint not null check (seq >= 0),
        hash bytea not null check (length(hash) = 32),
        updated_at timestamptz not null default now()
      );`);
    this.addSql(`
      create table audit_checkpoints (
        sequence bigint primary key check (sequence >= 1),
        id uuid not null unique,
        created_at timestamptz not null,
        reason text not null check (reason in ('interval', 'shutdown', 'purge')),
        key_id text not null,
        body text not null,
        signature text not null
      );`);
    this.addSql(`
      create table audit_purges (
        id uuid primary key,
        purged_at timestamptz not null default now(),
        before_month date not null,
        months text[] not null,
        events bigint not null,
        counts jsonb not null,
        ranges jsonb not null,
        heads jsonb not null
      );`);
    this.addSql(`
      create table audit_log_files (
        instance text not null,
        file text not null,
        bytes bigint not null,
        sha256 text not null,
        closed_at timestamptz not null,
        checkpoint_sequence bigint null,
        primary key (instance, file)
      );`);
    this.addSql(
      'create index audit_log_files_unsigned on audit_log_files (closed_at) where checkpoint_sequence is null;',
    );
    for (const table of ['audit_checkpoints', 'audit_purges']) {
      this.addSql(
        `create trigger ${table}_no_update_delete before update or delete on ${table} for each row execute function audit_events_append_only();`,
      );
      this.addSql(`alter table ${table} enable always trigger ${table}_no_update_delete;`);
      this.addSql(
        `create trigger ${table}_no_truncate before truncate on ${table} for each statement execute function audit_events_append_only();`,
      );
      this.addSql(`alter table ${table} enable always trigger ${table}_no_truncate;`);
    }

    // The old table steps aside; its indexes go (their names are the new table's), its rows are copied below.
    this.addSql('alter table audit_events rename to audit_events_unpartitioned;');
    this.addSql(
      'alter table audit_events_unpartitioned rename constraint audit_events_pkey to audit_events_unpartitioned_pkey;',
    );
    for (const index of ['created', 'entity', 'entity_path', 'author', 'type', 'target']) {
      this.addSql(`drop index if exists audit_events_${index};`);
    }
    // The primary key must hold the partition key; a redelivered event has the same created_at, so the same
    // partition, and (id, created_at) still makes it a duplicate.
    this.addSql(`
      create table audit_events (
        id uuid not null,
        event_type text not null,
        author_id bigint not null,
        author_name text not null,
        entity_type text not null,
        entity_id bigint not null,
        entity_path text not null,
        target_type text not null,
        target_id bigint null,
        created_at timestamptz not null,
        payload json not null,
        recorded_at timestamptz not null default now(),
        chain_id text not null,
        chain_seq bigint not null check (chain_seq >= 1),
        prev_hash bytea not null check (length(prev_hash) = 32),
        hash bytea not null check (length(hash) = 32),
        constraint audit_events_pkey primary key (id, created_at)
      ) partition by range (created_at);`);
    this.addSql('create index audit_events_created on audit_events (created_at desc, id desc);');
    this.addSql('create index audit_events_entity on audit_events (entity_type, entity_id, created_at desc, id desc);');
    this.addSql(
      'create index audit_events_entity_path on audit_events (entity_path text_pattern_ops, created_at desc);',
    );
    this.addSql('create index audit_events_author on audit_events (author_id, created_at desc, id desc);');
    this.addSql('create index audit_events_type on audit_events (event_type, created_at desc, id desc);');
    this.addSql('create index audit_events_target on audit_events (target_type, target_id, created_at desc, id desc);');
    // Verification walks each chain in order from this index alone (an index-only scan: the links are in it), the
    // payloads being hashed apart by a sequential scan; the append path never reads it (heads are in memory).
    this.addSql('create index audit_events_chain on audit_events (chain_id, chain_seq, id) include (prev_hash, hash);');
    this.addSql(
      'create trigger audit_events_no_update_delete before update or delete on audit_events for each row execute function audit_events_append_only();',
    );
    this.addSql('alter table audit_events enable always trigger audit_events_no_update_delete;');
    this.addSql(
      'create trigger audit_events_no_truncate before truncate on audit_events for each statement execute function audit_events_append_only();',
    );
    this.addSql('alter table audit_events enable always trigger audit_events_no_truncate;');

    // Months are created by whoever needs them first: the recorder ahead of time and when a chunk's insert finds
    // a month missing. Serialised by an advisory lock; a partition gets the append-only triggers (the row trigger
    // is cloned from the table; a statement trigger for TRUNCATE of the partition itself is not, so it is added).
    this.addSql(`
      create function audit_events_ensure_partitions(p_months date[]) returns integer
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        v_month date;
        v_name text;
        v_created integer := 0;
      begin
        if coalesce(array_length(p_months, 1), 0) > 240 then
          raise exception 'at most 240 months at once, not %', array_length(p_months, 1) using errcode = '22023';
        end if;
        foreach v_month in array coalesce(p_months, '{}') loop
          v_month := date_trunc('month', v_month)::date;
          v_name := format('audit_events_y%sm%s', to_char(v_month, 'YYYY'), to_char(v_month, 'MM'));
          continue when to_regclass(v_name) is not null;
          perform pg_advisory_xact_lock(hashtext('audit_events_partitions'));
          continue when to_regclass(v_name) is not null;
          execute format('create table %I partition of audit_events for values from (%L) to (%L)', v_name,
            to_char(v_month, 'YYYY-MM-DD') || ' 00:00:00+00', to_char(v_month + interval '1 month', 'YYYY-MM-DD') || ' 00:00:00+00');
          execute format('alter table %I enable always trigger audit_events_no_update_delete', v_name);
          execute format('create trigger audit_events_no_truncate before truncate on %I for each statement execute function audit_events_append_only()', v_name);
          execute format('alter table %I enable always trigger audit_events_no_truncate', v_name);
          execute format('revoke all on %I from public', v_name);
          v_created := v_created + 1;
        end loop;
        return v_created;
      end $$;`);

    // Drops the months before p_before (never the current month or a later one), all at once, and records what
    // they held: events per month, per chain the ranges of positions removed with the hash at each range's end
    // (what the next surviving event links to), and the chain heads at the cut. Returns the purge's id, or null
    // when no month was old enough. Partitions are locked first: an insert into one of them (a late event) waits,
    // then fails for want of its partition and is retried by the recorder, never dropped uncounted.
    this.addSql(`
      create function audit_events_purge(p_before date) returns uuid
      language plpgsql security definer set search_path = public, pg_temp as $$
      declare
        v_before date := date_trunc('month', p_before)::date;
        v_parts text[];
        v_part text;
        v_union text;
        v_count bigint;
        v_counts jsonb := '{}';
        v_events bigint := 0;
        v_ranges jsonb;
        v_heads jsonb;
        v_id uuid;
      begin
        if v_before > date_trunc('month', now() at time zone 'UTC')::date then
          raise exception 'the current month and later months are never purged (before %)', v_before using errcode = '22023';
        end if;
        perform pg_advisory_xact_lock(hashtext('audit_events_partitions'));
        select array_agg(c.relname::text order by c.relname) into v_parts
          from pg_inherits i join pg_class c on c.oid = i.inhrelid
         where i.inhparent = 'audit_events'::regclass
           and c.relname ~ '^audit_events_y[0-9]{4}m[0-9]{2}$'
           and make_date(substr(c.relname, 15, 4)::int, substr(c.relname, 20, 2)::int, 1) < v_before;
        if v_parts is null then
          return null;
        end if;
        foreach v_part in array v_parts loop
          execute format('lock table %I in access exclusive mode', v_part);
        end loop;
        foreach v_part in array v_parts loop
          execute format('select count(*) from %I', v_part) into v_count;
          v_counts := v_counts || jsonb_build_object(substr(v_part, 15, 4) || '-' || substr(v_part, 20, 2), v_count);
          v_events := v_events + v_count;
        end loop;
        select string_agg(format('select chain_id, chain_seq, hash from %I', p), ' union all ') into v_union from unnest(v_parts) p;
        execute 'with purged as materialized (' || v_union || '),
                 islands as (select chain_id, chain_seq, chain_seq - row_number() over (partition by chain_id order by chain_seq) as grp from purged),
                 ranges as (select chain_id, min(chain_seq) as first_seq, max(chain_seq) as last_seq from islands group by chain_id, grp)
            select coalesce(jsonb_agg(jsonb_build_object(''chain'', r.chain_id, ''from'', r.first_seq, ''to'', r.last_seq, ''hash'', encode(p.hash, ''hex''))
                                      order by r.chain_id, r.first_seq), ''[]'')
              from ranges r join purged p on p.chain_id = r.chain_id and p.chain_seq = r.last_seq'
          into v_ranges;
        select coalesce(jsonb_agg(jsonb_build_object('chain', chain, 'seq', seq, 'hash', encode(hash, 'hex')) order by chain), '[]')
          into v_heads from audit_chain_heads;
        foreach v_part in array v_parts loop
          execute format('drop table %I', v_part);
        end loop;
        v_id := gen_random_uuid();
        insert into audit_purges (id, before_month, months, events, counts, ranges, heads)
        values (v_id, v_before,
                (select array_agg(substr(p, 15, 4) || '-' || substr(p, 20, 2) order by p) from unnest(v_parts) p),
                v_events, v_counts, v_ranges, v_heads);
        return v_id;
      end $$;`);
    for (const fn of ['audit_events_ensure_partitions(date[])', 'audit_events_purge(date)']) {
      this.addSql(`revoke all on function ${fn} from public;`);
    }

    // The existing rows: their months, then the chain 'legacy' in the order they were recorded. The hashes are
    // computed here, row by row (each needs the previous one), into a temporary table, then copied in one insert.
    this.addSql(`
      select audit_events_ensure_partitions(array[month])
        from (select distinct date_trunc('month', created_at at time zone 'UTC')::date as month from audit_events_unpartitioned) months;`);
    this.addSql(`
      select audit_events_ensure_partitions(array[
        date_trunc('month', now() at time zone 'UTC')::date,
        (date_trunc('month', now() at time zone 'UTC') + interval '1 month')::date,
        (date_trunc('month', now() at time zone 'UTC') + interval '2 months')::date]);`);
    this.addSql(`
      do $$
      declare
        r record;
        v_prev bytea := sha256(convert_to('audit-chain v1 genesis legacy', 'UTF8'));
        v_seq bigint := 0;
        v_hash bytea;
      begin
        create temporary table legacy_links (id uuid primary key, seq bigint not null, prev_hash bytea not null, hash bytea not null) on commit drop;
        for r in select id, payload::text as json from audit_events_unpartitioned order by recorded_at, id loop
          v_seq := v_seq + 1;
          v_hash := sha256(v_prev || int8send(v_seq) || convert_to(r.json, 'UTF8'));
          insert into legacy_links values (r.id, v_seq, v_prev, v_hash);
          v_prev := v_hash;
        end loop;
        insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type,
                                  target_id, created_at, payload, recorded_at, chain_id, chain_seq, prev_hash, hash)
        select e.id, e.event_type, e.author_id, e.author_name, e.entity_type, e.entity_id, e.entity_path, e.target_type,
               e.target_id, e.created_at, e.payload, e.recorded_at, 'legacy', l.seq, l.prev_hash, l.hash
          from audit_events_unpartitioned e join legacy_links l on l.id = e.id;
        if v_seq > 0 then
          insert into audit_chain_heads (chain, seq, hash) values ('legacy', v_seq, v_prev);
        end if;
      end $$;`);
    this.addSql('drop table audit_events_unpartitioned;');
  }
}
