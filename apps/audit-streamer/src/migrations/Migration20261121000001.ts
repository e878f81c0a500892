import { Migration } from '@mikro-orm/migrations';

/** Read model of groups and projects, built from GroupCreated/ProjectCreated: resolves :id and root groups. */
export class Migration20261121000001 extends Migration {
  override up(): void {
    this.addSql(`
      create table namespaces (
        kind text not null check (kind in ('Group', 'Project')),
        id bigint not null,
        full_path text not null,
        parent_id bigint null,
        primary key (kind, id)
      );
    `);
    this.addSql(`create unique index namespaces_kind_full_path_key on namespaces (kind, lower(full_path));`);
  }
}
