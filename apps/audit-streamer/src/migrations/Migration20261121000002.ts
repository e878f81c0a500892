import { Migration } from '@mikro-orm/migrations';

/** Streaming destinations and their custom headers. Secrets are stored encrypted (SecretBox, v1:...). */
export class Migration20261121000002 extends Migration {
  override up(): void {
    this.addSql(`
      create table destinations (
        id bigserial primary key,
        group_id bigint null, -- null: instance-level destination
        name text not null,
        destination_url text not null,
        verification_token text not null, -- encrypted
        signing_secret text not null, -- encrypted, whsec_<base64>
        event_type_filters text[] not null default '{}',
        active boolean not null default true,
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
    `);
    this.addSql(`create index destinations_group_id_idx on destinations (group_id);`);
    this.addSql(
      `create unique index destinations_group_name_key on destinations (coalesce(group_id, 0), lower(name));`,
    );
    this.addSql(`
      create table destination_headers (
        id bigserial primary key,
        destination_id bigint not null references destinations (id) on delete cascade,
        key text not null,
        value text not null, -- encrypted
        created_at timestamptz not null default now(),
        updated_at timestamptz not null default now()
      );
    `);
    this.addSql(`create unique index destination_headers_key_key on destination_headers (destination_id, lower(key));`);
  }
}
