import { Migration } from '@mikro-orm/migrations';

/** One delivery per (destination, audit event) and the log of its attempts. */
export class Migration20261121000003 extends Migration {
  override up(): void {
    this.addSql(`
      create table deliveries (
        id bigserial primary key,
        destination_id bigint not null references destinations (id) on delete cascade,
        audit_event_id uuid not null,
        event_type text not null,
        payload jsonb not null,
        status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
        attempts int not null default 0,
        next_attempt_at timestamptz not null default now(),
        last_status_code int null,
        last_error text null,
        created_at timestamptz not null default now(),
        delivered_at timestamptz null,
        constraint deliveries_destination_event_key unique (destination_id, audit_event_id)
      );
    `);
    this.addSql(`create index deliveries_status_next_attempt_idx on deliveries (status, next_attempt_at);`);
    this.addSql(`create index deliveries_destination_idx on deliveries (destination_id, id desc);`);
    this.addSql(`
      create table delivery_attempts (
        id bigserial primary key,
        delivery_id bigint not null references deliveries (id) on delete cascade,
        attempted_at timestamptz not null default now(),
        status_code int null,
        latency_ms int not null,
        error text null
      );
    `);
    this.addSql(`create index delivery_attempts_delivery_idx on delivery_attempts (delivery_id, id);`);
  }
}
