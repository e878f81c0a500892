import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { printSchema } from 'graphql';
import { createStreamingSchema } from './resolvers';

/*
 * Writes apps/audit-streamer/schema.graphql from the schema the service serves (schema-file.spec.ts
 * fails while the committed file differs). Run from the repository root:
 *   node -r @swc-node/register apps/audit-streamer/src/graphql/print-schema.ts
 */
export const SCHEMA_FILE = join(__dirname, '..', '..', 'schema.graphql');

export const printedSchema = (): string => `${printSchema(createStreamingSchema())}\n`;

if (require.main === module) {
  writeFileSync(SCHEMA_FILE, printedSchema());
  process.stdout.write(`wrote ${SCHEMA_FILE}\n`);
}
