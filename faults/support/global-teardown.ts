import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { formatTable, readRows, removeRows, RESULTS_DIR, ScenarioRow } from './report';

/** Scenario names start with their number ("3. Kafka down..."): the table follows the spec's order. */
const order = (row: ScenarioRow) => Number.parseInt(row.scenario, 10) || Number.MAX_SAFE_INTEGER;

/** Prints the whole table once every scenario ran, and keeps it in faults/results/results.md. */
export default function globalTeardown(): void {
  const rows = readRows().sort((a, b) => order(a) - order(b));
  const profile = process.env['FAULTS_PROFILE'] ?? 'full';
  const table = formatTable(rows);
  const markdown = `# Fault-injection results (profile: ${profile}, ${new Date().toISOString()})\n\n${table}\n`;
  writeFileSync(join(RESULTS_DIR, 'results.md'), markdown);
  removeRows();
  process.stdout.write(`\n${markdown}\nwritten to ${join(RESULTS_DIR, 'results.md')}\n`);
}
