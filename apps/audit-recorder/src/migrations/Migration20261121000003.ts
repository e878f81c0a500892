import { Migration } from '@mikro-orm/migrations';
import { OUTBOX_TABLE_DDL } from '@audit/outbox';

/** The recorder's own outbox: an export is an audit event, published to domain-events like any other. */
export class Migration20261121000003 extends Migration {
  override async up(): Promise<void> {
    for (const sql of OUTBOX_TABLE_DDL) this.addSql(sql);
  }
}
