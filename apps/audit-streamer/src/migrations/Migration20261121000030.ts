import { Migration } from '@mikro-orm/migrations';

/**
 * A version that every change to a destination or its headers bumps, by trigger so no write path
 * can forget it. Claims return it, and the worker's cache of ready-to-send destinations reloads
 * when it moved: a new header applies to the very next delivery, in every instance.
 */
export class Migration20261121000030 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table destinations add column config_version bigint not null default 0;');
    this.addSql(`
      create function destinations_bump_config_version() returns trigger language plpgsql as $$
      begin
        new.config_version := old.config_version + 1;
        return new;
      end $$;`);
    this.addSql(
      'create trigger destinations_config_version before update on destinations for each row execute function destinations_bump_config_version();',
    );
    this.addSql(`
      create function destination_headers_bump_config_version() returns trigger language plpgsql as $$
      begin
        update destinations set config_version = config_version + 1
         where id = case when tg_op = 'DELETE' then old.destination_id else new.destination_id end;
        return null;
      end $$;`);
    this.addSql(
      'create trigger destination_headers_config_version after insert or update or delete on destination_headers for each row execute function destination_headers_bump_config_version();',
    );
  }
}
