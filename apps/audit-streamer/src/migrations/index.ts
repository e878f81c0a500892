import type { MigrationObject } from '@mikro-orm/core';
import { Migration20261121000001 } from './Migration20261121000001';
import { Migration20261121000002 } from './Migration20261121000002';
import { Migration20261121000003 } from './Migration20261121000003';
import { Migration20261121000010 } from './Migration20261121000010';
import { Migration20261121000020 } from './Migration20261121000020';
import { Migration20261121000030 } from './Migration20261121000030';
import { Migration20261121000031 } from './Migration20261121000031';
import { Migration20261121000032 } from './Migration20261121000032';
import { Migration20261126000040 } from './Migration20261126000040';
import { Migration20261127000001 } from './Migration20261127000001';

/** Committed migrations in order; DatabaseModule runs them at start-up. */
export const migrations: MigrationObject[] = [
  { name: 'Migration20261121000001', class: Migration20261121000001 },
  { name: 'Migration20261121000002', class: Migration20261121000002 },
  { name: 'Migration20261121000003', class: Migration20261121000003 },
  { name: 'Migration20261121000010', class: Migration20261121000010 },
  { name: 'Migration20261121000020', class: Migration20261121000020 },
  { name: 'Migration20261121000030', class: Migration20261121000030 },
  { name: 'Migration20261121000031', class: Migration20261121000031 },
  { name: 'Migration20261121000032', class: Migration20261121000032 },
  { name: 'Migration20261126000040', class: Migration20261126000040 },
  { name: 'Migration20261127000001', class: Migration20261127000001 },
];

/** The streamer appends to nothing it may not also update: every table is read-write for the running service. */
export const runtimePrivileges = { appendOnly: [] as string[] };
