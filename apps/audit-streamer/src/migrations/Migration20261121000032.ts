import { Migration } from '@mikro-orm/migrations';

/**
 * Fewer index writes per delivery, the streamer's largest PostgreSQL cost:
 * - A delivery's latest attempt lives on its own row (`last_*`); `delivery_attempts` keeps the
 *   earlier ones, written when the next attempt replaces the latest. A first-try success, nearly
 *   every delivery, writes no attempt row at all. Existing logs are moved to the new shape.
 * - Pruning walks (destination_id, created_at), which exists for replay (a delivery is delivered
 *   after it was created, so `created_at` bounds the scan and `delivered_at` decides), instead of an
 *   index of its own that every delivered row had to enter.
 */
export class Migration20261121000032 extends Migration {
  override async up(): Promise<void> {
    this.addSql(
      'alter table deliveries add column last_latency_ms integer null, add column last_attempted_at timestamptz null;',
    );
    this.addSql(`with latest as (
                   select distinct on (delivery_id) id, delivery_id, attempted_at, latency_ms from delivery_attempts order by delivery_id, id desc
                 ), moved as (
                   update deliveries d set last_latency_ms = l.latency_ms, last_attempted_at = l.attempted_at
                     from latest l where l.delivery_id = d.id
                   returning l.id
                 )
                 delete from delivery_attempts a using moved m where a.id = m.id;`);
    this.addSql('drop index if exists deliveries_delivered_at_idx;');
  }
}
