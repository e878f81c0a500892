import { Migration } from '@mikro-orm/migrations';

/**
 * The append-only triggers fire in every replication mode: `ENABLE ALWAYS`, so a session that sets
 * `session_replication_role = replica` (which skipped ordinary triggers: an UPDATE went through)
 * meets them too. The runtime role has no UPDATE, DELETE or TRUNCATE on the table at all (grants
 * rebuilt at every boot, roles.ts); the triggers stand behind that for anyone who does.
 */
export class Migration20261124000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table audit_events enable always trigger audit_events_no_update_delete;');
    this.addSql('alter table audit_events enable always trigger audit_events_no_truncate;');
  }
}
