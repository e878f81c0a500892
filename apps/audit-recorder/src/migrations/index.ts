import { Migration20261121000001 } from './Migration20261121000001';
import { Migration20261121000002 } from './Migration20261121000002';
import { Migration20261121000003 } from './Migration20261121000003';
import { Migration20261124000001 } from './Migration20261124000001';
import { Migration20261127000001 } from './Migration20261127000001';

export const migrations = [
  { name: 'Migration20261121000001', class: Migration20261121000001 },
  { name: 'Migration20261121000002', class: Migration20261121000002 },
  { name: 'Migration20261121000003', class: Migration20261121000003 },
  { name: 'Migration20261124000001', class: Migration20261124000001 },
  { name: 'Migration20261127000001', class: Migration20261127000001 },
];

/** Tables the running service may only read and append to (no UPDATE, DELETE or TRUNCATE). */
export const runtimePrivileges = { appendOnly: ['audit_events'] };
