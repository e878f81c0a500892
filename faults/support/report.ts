/**
 * One row per scenario, in the table the fault suite prints at the end and writes to
 * faults/results/results.md (git-ignored; the README holds a copy from a reference run).
 * Rows are appended to a JSON-lines file so scenarios in separate jest test files share one table.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const RESULTS_DIR = join(__dirname, '..', 'results');
/**
 * The run's rows file. globalSetup names the run in FAULTS_RUN_ID (inherited by the test files), so
 * two runs in one checkout at the same time (several engineers) do not truncate each other's table.
 */
const rowsFile = (): string =>
  join(RESULTS_DIR, process.env['FAULTS_RUN_ID'] ? `rows-${process.env['FAULTS_RUN_ID']}.jsonl` : 'rows.jsonl');

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
  /** Fleet scenarios: seconds from a consumer replica's SIGKILL until its partitions were consumed again, per group. */
  failover?: string;
  /** Fleet scenarios: the most requests one destination had in flight at once, from all streamers together. */
  maxInFlight?: number;
  /** Anything else worth a line: fault timings, 5xx count, seconds to converge. */
  notes?: string;
}

export function recordRow(row: ScenarioRow): void {
  mkdirSync(RESULTS_DIR, { recursive: true });
  appendFileSync(rowsFile(), `${JSON.stringify(row)}\n`);
  // Printed as it lands too, so a failing run still shows the figures it reached.
  process.stdout.write(`${formatTable([row])}\n`);
}

export function readRows(): ScenarioRow[] {
  if (!existsSync(rowsFile())) return [];
  return readFileSync(rowsFile(), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ScenarioRow);
}

/** Starts an empty table; with `runId`, this process and the test files it starts use that run's own file. */
export function resetRows(runId?: string): void {
  if (runId !== undefined) process.env['FAULTS_RUN_ID'] = runId;
  mkdirSync(RESULTS_DIR, { recursive: true });
  writeFileSync(rowsFile(), '');
}

/** Removes the run's rows file once its table has been written out. */
export function removeRows(): void {
  rmSync(rowsFile(), { force: true });
}

export function formatTable(rows: ScenarioRow[]): string {
  const head =
    '| scenario | actions accepted | audit events stored | duplicates in DB | events missing | deliveries per destination | duplicates delivered | DLQ messages | failover | max in flight | notes |';
  const rule = '|---|---:|---:|---:|---:|---|---:|---:|---|---:|---|';
  const lines = rows.map((r) => {
    const deliveries =
      Object.entries(r.deliveriesPerDestination)
        .map(([k, v]) => `${k}: ${v}`)
        .join(', ') || '—';
    return `| ${r.scenario} | ${r.actionsAccepted} | ${r.auditEventsStored} | ${r.duplicatesInDatabase} | ${r.eventsMissing} | ${deliveries} | ${r.duplicatesDelivered} | ${r.messagesInDlq} | ${r.failover ?? '—'} | ${r.maxInFlight ?? '—'} | ${r.notes ?? ''} |`;
  });
  return [head, rule, ...lines].join('\n');
}
