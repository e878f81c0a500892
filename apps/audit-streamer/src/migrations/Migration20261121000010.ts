import { Migration } from '@mikro-orm/migrations';
import { OUTBOX_TABLE_DDL } from '@audit/outbox';

/**
 * Changes to streaming configuration are audit events (published through this service's outbox), a
 * rotated-out signing secret keeps signing until its grace period ends, and a deactivation says why.
 */
export class Migration20261121000010 extends Migration {
  override async up(): Promise<void> {
    for (const sql of OUTBOX_TABLE_DDL) this.addSql(sql);
    this.addSql(`
      alter table destinations
        add column previous_signing_secret text null, -- encrypted, whsec_<base64>
        add column previous_signing_secret_expires_at timestamptz null,
        add column deactivated_at timestamptz null,
        add column deactivated_reason text null;
    `);
  }
}
