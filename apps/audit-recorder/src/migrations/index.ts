import { Migration20261121000001 } from './Migration20261121000001';
import { Migration20261121000002 } from './Migration20261121000002';
import { Migration20261121000003 } from './Migration20261121000003';
import { Migration20261124000001 } from './Migration20261124000001';
import { Migration20261127000001 } from './Migration20261127000001';
import { Migration20261128000001 } from './Migration20261128000001';

export const migrations = [
  { name: 'Migration20261121000001', class: Migration20261121000001 },
  { name: 'Migration20261121000002', class: Migration20261121000002 },
  { name: 'Migration20261121000003', class: Migration20261121000003 },
  { name: 'Migration20261124000001', class: Migration20261124000001 },
  { name: 'Migration20261127000001', class: Migration20261127000001 },
  { name: 'Migration20261128000001', class: Migration20261128000001 },
];

/**
 * Tables the running service may only read and append to (no UPDATE, DELETE or TRUNCATE; partitions
 * included), and the functions it may call: the only ways it changes audit_events' shape.
 */
export const runtimePrivileges = {
  appendOnly: ['audit_events', 'audit_checkpoints', 'audit_purges'],
  executable: ['audit_events_ensure_partitions(date[])', 'audit_events_purge(date)'],
};
