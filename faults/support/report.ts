/**
 * One row per scenario, in the table the fault suite prints at the end and writes to
 * faults/results/results.md (git-ignored; the README holds a copy from a reference run).
 * Rows are appended to a JSON-lines file so scenarios in separate jest test files share one table.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(__dirname, '..', 'results');
const ROWS = join(RESULTS_DIR, 'rows.jsonl');

export interface ScenarioRow {
  scenario: string;
  /** Actions the public HTTP APIs accepted (2xx), plus messages injected straight into Kafka. */
  actionsAccepted: number;
  auditEventsStored: number;
  duplicatesInDatabase: number;
  eventsMissing: number;
  /** destination name → deliveries received (distinct event ids), e.g. { siem: 120, archive: 40 }. */
  deliveriesPerDestination: Record<string, number>;
  duplicatesDelivered: number;
  messagesInDlq: number;
  /** Anything else worth a line: fault timings, 5xx count, seconds to converge. */
  notes?: string;
}

export function recordRow(row: ScenarioRow): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(ROWS, `${JSON.stringify(row)}\n`);
  // Printed as it lands too, so a failing run still shows the figures it reached.
  process.stdout.write(`${formatTable([row])}\n`);
}

export function readRows(): ScenarioRow[] {
  if (!existsSync(ROWS)) return [];
  return readFileSync(ROWS, 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as ScenarioRow);
}

export function resetRows(): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(ROWS, '');
}

export function formatTable(rows: ScenarioRow[]): string {
  const head = '| scenario | actions accepted | audit events stored | duplicates in DB | events missing | deliveries per destination | duplicates delivered | DLQ messages | notes |';
  const rule = '|---|---:|---:|---:|---:|---|---:|---:|---|';
  const lines = rows.map((r) => {
    const deliveries = Object.entries(r.deliveriesPerDestination).map(([k, v]) => `${k}: ${v}`).join(', ') || '—';
    return `| ${r.scenario} | ${r.actionsAccepted} | ${r.auditEventsStored} | ${r.duplicatesInDatabase} | ${r.eventsMissing} | ${deliveries} | ${r.duplicatesDelivered} | ${r.messagesInDlq} | ${r.notes ?? ''} |`;
  });
  return [head, rule, ...lines].join('\n');
}
