import { Migration } from '@mikro-orm/migrations';

/**
 * Deliveries keep their payload as `json`, which stores the text as given: the streamed body keeps
 * the contract's field order without re-parsing it per request (jsonb reorders keys). And the
 * table churns (every delivery is updated at least twice), so it is vacuumed early: dead index
 * entries otherwise slow the claim query as delivered rows accumulate.
 */
export class Migration20261121000031 extends Migration {
  override async up(): Promise<void> {
    this.addSql('alter table deliveries alter column payload type json using payload::json;');
    this.addSql(`alter table deliveries set (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                  autovacuum_vacuum_insert_scale_factor = 0.01, autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);`);
  }
}
