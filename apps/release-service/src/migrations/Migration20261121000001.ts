import { Migration } from '@mikro-orm/migrations';
import { OUTBOX_TABLE_DDL } from '@audit/outbox';

/** Event store, transactional outbox and the read models behind the GET endpoints. */
export class Migration20261121000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create table event_store (
        global_position bigserial primary key,
        stream_id text not null,
        stream_version integer not null,
        event_id uuid not null unique,
        event_type text not null,
        payload jsonb not null,
        recorded_at timestamptz not null default now(),
        constraint event_store_stream_version unique (stream_id, stream_version)
      );`);
    for (const sql of OUTBOX_TABLE_DDL) this.addSql(sql);
    this.addSql(
      'create sequence group_ids; create sequence project_ids; create sequence milestone_ids; create sequence release_ids;',
    );
    this.addSql(`
      create table groups (
        id integer primary key,
        path text not null,
        name text not null,
        full_path text not null,
        parent_id integer null references groups (id),
        created_at timestamptz not null
      );`);
    this.addSql('create unique index groups_full_path on groups (lower(full_path));');
    this.addSql(`
      create table projects (
        id integer primary key,
        path text not null,
        name text not null,
        full_path text not null,
        namespace_id integer not null references groups (id),
        created_at timestamptz not null
      );`);
    this.addSql('create unique index projects_full_path on projects (lower(full_path));');
    this.addSql(`
      create table milestones (
        id integer primary key,
        project_id integer not null references projects (id),
        title text not null,
        created_at timestamptz not null,
        constraint milestones_project_title unique (project_id, title)
      );`);
    this.addSql(`
      create table releases (
        id integer primary key,
        project_id integer not null references projects (id),
        tag_name text not null,
        name text not null,
        description text null,
        milestones jsonb not null default '[]',
        version integer not null,
        created_at timestamptz not null,
        updated_at timestamptz not null,
        deleted_at timestamptz null
      );`);
    this.addSql('create unique index releases_live_tag on releases (project_id, tag_name) where deleted_at is null;');
  }
}
