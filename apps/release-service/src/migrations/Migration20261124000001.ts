import { Migration } from '@mikro-orm/migrations';

/**
 * The event store is the record every audit event of this service is derived from: append-only like
 * the recorder's audit events. The runtime role has no UPDATE or DELETE on it (roles.ts); these
 * triggers refuse them, and TRUNCATE, to anyone else, in every replication mode.
 */
export class Migration20261124000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql(`
      create function event_store_append_only() returns trigger language plpgsql as $$
      begin
        raise exception 'the event store is append-only: % is not allowed', tg_op using errcode = '42501';
      end $$;`);
    this.addSql(
      'create trigger event_store_no_update_delete before update or delete on event_store for each row execute function event_store_append_only();',
    );
    this.addSql(
      'create trigger event_store_no_truncate before truncate on event_store for each statement execute function event_store_append_only();',
    );
    this.addSql('alter table event_store enable always trigger event_store_no_update_delete;');
    this.addSql('alter table event_store enable always trigger event_store_no_truncate;');
  }
}
