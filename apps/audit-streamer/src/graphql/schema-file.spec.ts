import { readFileSync } from 'node:fs';
import { printedSchema, SCHEMA_FILE } from './print-schema';

describe('apps/audit-streamer/schema.graphql', () => {
  it('is the schema the service serves, printed', () => {
    const committed = readFileSync(SCHEMA_FILE, 'utf8');
    const hint =
      'schema.graphql is out of date: regenerate it with `node -r @swc-node/register apps/audit-streamer/src/graphql/print-schema.ts` and commit it';
    if (committed !== printedSchema()) throw new Error(hint);
    expect(committed).toContain(
      'externalAuditEventDestinationCreate(input: ExternalAuditEventDestinationCreateInput!)',
    );
  });
});
