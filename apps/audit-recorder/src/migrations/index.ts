import { Migration20261121000001 } from './Migration20261121000001';

export const migrations = [{ name: 'Migration20261121000001', class: Migration20261121000001 }];
