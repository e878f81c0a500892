import { Migration } from '@mikro-orm/migrations';

/** Read models of release asset links and evidence; ids of both come from sequences, as every id here does. */
export class Migration20261121000002 extends Migration {
  override async up(): Promise<void> {
    this.addSql('create sequence link_ids; create sequence evidence_ids;');
    this.addSql(`
      create table release_links (
        id integer primary key,
        release_id integer not null references releases (id),
        name text not null,
        url text not null,
        created_at timestamptz not null
      );`);
    this.addSql('create index release_links_release on release_links (release_id, id);');
    this.addSql(`
      create table release_evidences (
        id integer primary key,
        release_id integer not null references releases (id),
        sha text not null,
        collected_at timestamptz not null
      );`);
    this.addSql('create index release_evidences_release on release_evidences (release_id, id);');
    // Serves the newest-first listing of a project's live releases.
    this.addSql(
      'create index releases_project_created on releases (project_id, created_at desc, id desc) where deleted_at is null;',
    );
  }
}
