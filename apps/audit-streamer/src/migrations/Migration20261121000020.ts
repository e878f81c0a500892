import { Migration } from '@mikro-orm/migrations';

/**
 * Independent delivery per destination: a lease column (so a claim no longer rewrites the retry
 * time), the per-destination due index the claim walks, indexes for replay and pruning, and the
 * health of each destination (how long it has been failing, and its pause between probes).
 */
export class Migration20261121000020 extends Migration {
  override up(): void {
    this.addSql(`alter table deliveries add column leased_until timestamptz null;`);
    this.addSql(`drop index if exists deliveries_status_next_attempt_idx;`);
    this.addSql(
      `create index deliveries_due_idx on deliveries (destination_id, next_attempt_at, id) where status <> 'delivered';`,
    );
    this.addSql(`create index deliveries_destination_created_idx on deliveries (destination_id, created_at);`);
    this.addSql(`create index deliveries_delivered_at_idx on deliveries (delivered_at) where status = 'delivered';`);
    this.addSql(`
      create table destination_health (
        destination_id bigint primary key references destinations (id) on delete cascade,
        failing_since timestamptz null,
        pause_level int not null default 0,
        paused_until timestamptz null,
        updated_at timestamptz not null default now()
      );
    `);
  }
}
