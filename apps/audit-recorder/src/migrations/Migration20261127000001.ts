import { Migration } from '@mikro-orm/migrations';
import { OUTBOX_TRACEPARENT_DDL } from '@audit/outbox';

/**
 * The trace context of the write that appended an outbox row, sent as the Kafka message's `traceparent`.
 * Nullable and without default: adding it rewrites nothing, whatever the table's size.
 */
export class Migration20261127000001 extends Migration {
  override async up(): Promise<void> {
    this.addSql(OUTBOX_TRACEPARENT_DDL);
  }
}
