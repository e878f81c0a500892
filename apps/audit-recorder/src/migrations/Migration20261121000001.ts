import { Migration } from '@mikro-orm/migrations';

/**
 * Audit events (append-only, enforced by triggers) and the recorder's read model of groups and
 * projects. `payload` keeps the audit event exactly as mapped (json, not jsonb, so its key order
 * survives); the other columns exist to filter and paginate.
 */
export class Migration20261121000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table audit_events (
        id uuid primary key,
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
        recorded_at timestamptz not null default now()
      );`);
    this.addSql('create index audit_events_created on audit_events (created_at desc, id desc);');
    this.addSql('create index audit_events_entity on audit_events (entity_type, entity_id, created_at desc, id desc);');
    this.addSql(
      'create index audit_events_entity_path on audit_events (entity_path text_pattern_ops, created_at desc);',
    );
    this.addSql(`
      create function audit_events_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'audit events are append-only: % is not allowed', tg_op using errcode = '42501';
      end $$;`);
    this.addSql(
      'create trigger audit_events_no_update_delete before update or delete on audit_events for each row execute function audit_events_append_only();',
    );
    this.addSql(
      'create trigger audit_events_no_truncate before truncate on audit_events for each statement execute function audit_events_append_only();',
    );
    this.addSql(`
      create table namespaces (
        kind text not null check (kind in ('Group', 'Project')),
        id bigint not null,
        full_path text not null,
        parent_id bigint null,
        primary key (kind, id)
      );`);
    this.addSql('create unique index namespaces_path on namespaces (kind, lower(full_path));');
  }
}
