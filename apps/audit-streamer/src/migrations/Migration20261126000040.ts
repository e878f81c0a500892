import { Migration } from '@mikro-orm/migrations';

/**
 * The fleet's delivery slots (dispatch/destination-slots.ts): DELIVERY_CONCURRENCY_PER_DESTINATION,
 * and the single probe of a paused destination, held across every replica sharing this database.
 * - `delivery_slots`: one row per slot of a destination, created as first needed; a process sends
 *   to a destination only on slots it holds, leased like deliveries (`held_until`, renewed while
 *   it has work there, released when it has none). Only `held_until` changes on a renewal, so a
 *   renewal is a HOT update: the rows are rewritten every few seconds.
 * - `delivery_slot_waiters`: processes that asked for slots of a destination and got fewer than
 *   they needed; holders shrink to a fair share while a waiter lives, so replicas take turns.
 */
export class Migration20261126000040 extends Migration {
  override up(): void {
    this.addSql(`
      create table delivery_slots (
        destination_id bigint not null references destinations (id) on delete cascade,
        slot smallint not null check (slot >= 0),
        holder text null,
        held_until timestamptz null,
        primary key (destination_id, slot)
      ) with (fillfactor = 50);
    `);
    this.addSql(`
      create table delivery_slot_waiters (
        destination_id bigint not null references destinations (id) on delete cascade,
        waiter text not null,
        waiting_until timestamptz not null,
        primary key (destination_id, waiter)
      );
    `);
  }
}
