import { Migration } from '@mikro-orm/migrations';

/**
 * Indexes of the audit event filters. Every list query is `filters ... order by created_at, id`
 * with a keyset bound, so each index ends in (created_at desc, id desc): equality on its leading
 * columns, then an ordered range scan that stops after one page, at any depth and in both orders
 * (a b-tree is read backwards for asc). Project and group scopes use audit_events_entity of
 * Migration20261121000001, the group tree one scan per entity; date windows bound created_at.
 */
export class Migration20261121000002 extends Migration {
  override async up(): Promise<void> {
    // "What did this user do": instance-wide or within a scope.
    this.addSql(
      'create index if not exists audit_events_author on audit_events (author_id, created_at desc, id desc);',
    );
    // "Every deletion": one type is an ordered scan; for several, the planner reads rare ones here and
    // sorts them, or follows audit_events_created and filters when they are common.
    this.addSql('create index if not exists audit_events_type on audit_events (event_type, created_at desc, id desc);');
    // "The history of release 7": target_type alone is a weak filter, so it leads only together with the id.
    this.addSql(
      'create index if not exists audit_events_target on audit_events (target_type, target_id, created_at desc, id desc);',
    );
    // The group tree walk of the query API: children of a namespace.
    this.addSql('create index if not exists namespaces_parent on namespaces (parent_id, kind);');
  }
}
