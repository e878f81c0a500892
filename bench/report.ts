/**
 * Merges bench/results/<name>.json (one per benchmark, support/results.ts) into bench/results.json
 * and bench/results.md: every headline figure beside its baseline from the same run, the ratio, the
 * target and PASS/FAIL, with the commit and the machine they were measured on. Prints the table.
 *   node -r @swc-node/register bench/report.ts       (whatever results exist)
 * bench/run-all.ts calls it after running the benchmarks, with each one's exit code and duration:
 * a benchmark that failed, or whose result file predates the run, is reported as such, never with
 * an older run's figures passed off as this one's.
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { Figure, RESULTS_DIR } from './support/results';
import { gitInfo, log } from './support/run';

export interface BenchRun {
  name: string;
  exitCode: number | null;
  seconds: number;
}

export interface RunInfo {
  /** ms since epoch. */
  startedAt: number;
  benches: BenchRun[];
}

interface ResultFile {
  bench?: string;
  at?: string;
  git?: { commit: string; dirty: boolean };
  busyBeforePct?: number;
  figures?: Figure[];
}

interface BenchEntry {
  status: 'ok' | 'failed' | 'stale' | 'missing' | 'no figures';
  at: string | null;
  git: { commit: string; dirty: boolean } | null;
  busyBeforePct: number | null;
  exitCode: number | null;
  seconds: number | null;
  figures: Figure[];
}

const ORDER = [
  'release-service',
  'recorder',
  'recorder-query',
  'recorder-exports',
  'streamer',
  'e2e',
  'fleet',
  'observability',
  'verify',
];

function readResults(): Map<string, ResultFile> {
  if (!existsSync(RESULTS_DIR)) return new Map();
  const files = readdirSync(RESULTS_DIR, { withFileTypes: true }).filter(
    (f) => f.isFile() && f.name.endsWith('.json') && !f.name.startsWith('_'),
  );
  return new Map(
    files.map((f) => [
      f.name.replace(/\.json$/, ''),
      JSON.parse(readFileSync(join(RESULTS_DIR, f.name), 'utf8')) as ResultFile,
    ]),
  );
}

function entry(file: ResultFile | undefined, run: BenchRun | undefined, startedAt: number | undefined): BenchEntry {
  const stale = file?.at !== undefined && startedAt !== undefined && Date.parse(file.at) < startedAt;
  const status: BenchEntry['status'] =
    run && run.exitCode !== 0 ? 'failed' : !file ? 'missing' : stale ? 'stale' : !file.figures ? 'no figures' : 'ok';
  return {
    status,
    at: file?.at ?? null,
    git: file?.git ?? null,
    busyBeforePct: file?.busyBeforePct ?? null,
    exitCode: run?.exitCode ?? null,
    seconds: run?.seconds ?? null,
    // A failed or stale benchmark's figures are an older run's: kept out of this run's table.
    figures: status === 'ok' ? (file?.figures ?? []) : [],
  };
}

async function postgresVersion(): Promise<string | null> {
  const client = new Client({
    connectionString: process.env['DATABASE_URL'] || 'postgres://postgres@127.0.0.1:5432/postgres',
    connectionTimeoutMillis: 10_000,
  });
  try {
    await client.connect();
    return (await client.query<{ v: string }>("select current_setting('server_version') as v")).rows[0].v;
  } catch {
    return null;
  } finally {
    await client.end().catch(() => undefined);
  }
}

const cell = (n: number | null): string => (n === null ? '—' : String(n));
const verdict = (pass: boolean | null): string => (pass === null ? '' : pass ? 'PASS' : '**FAIL**');

function markdown(report: {
  at: string;
  git: unknown;
  machine: Record<string, unknown>;
  benches: Record<string, BenchEntry>;
}): string {
  const git = report.git as { commit: string; dirty: boolean } | undefined;
  const m = report.machine;
  const lines = [
    '# Benchmark results',
    '',
    `${report.at} · commit ${git ? `${git.commit}${git.dirty ? ' (apps/ or libs/ had uncommitted changes)' : ''}` : 'unknown'} · ${m['cpuCount']} × ${m['cpuModel']}, ${m['memoryGb']} GB, ${m['os']}, Node ${m['node']}, PostgreSQL ${m['postgres'] ?? '?'}`,
    '',
    'Each figure beside its bare baseline measured in the same run (`ratio` = value / baseline); see bench/README.md for what each measures.',
    '',
    '| benchmark | figure | value | baseline | ratio | target | pass |',
    '| --- | --- | ---: | ---: | ---: | --- | --- |',
  ];
  for (const [name, b] of Object.entries(report.benches)) {
    if (b.status !== 'ok')
      lines.push(
        `| ${name} | **${b.status}**${b.exitCode ? ` (exit ${b.exitCode})` : ''}${b.at ? `, last result ${b.at}` : ''} | | | | | **FAIL** |`,
      );
    for (const f of b.figures)
      lines.push(
        `| ${name} | ${f.name} | ${cell(f.value)} | ${cell(f.baseline)} | ${cell(f.ratio)} | ${f.target ?? ''} | ${verdict(f.pass)} |`,
      );
  }
  lines.push(
    '',
    '| benchmark | status | measured at | duration (s) | machine busy before (%) |',
    '| --- | --- | --- | ---: | ---: |',
  );
  for (const [name, b] of Object.entries(report.benches))
    lines.push(`| ${name} | ${b.status} | ${b.at ?? '—'} | ${cell(b.seconds)} | ${cell(b.busyBeforePct)} |`);
  return `${lines.join('\n')}\n`;
}

/** Writes bench/results.json and bench/results.md; says whether every benchmark ran, and whether every target passed. */
export async function report(run?: RunInfo): Promise<{ complete: boolean; allPassed: boolean }> {
  const files = readResults();
  const names = [
    ...new Set([...ORDER.filter((n) => files.has(n) || run?.benches.some((b) => b.name === n)), ...files.keys()]),
  ];
  const benches = Object.fromEntries(
    names.map((n) => [
      n,
      entry(
        files.get(n),
        run?.benches.find((b) => b.name === n),
        run?.startedAt,
      ),
    ]),
  );
  const cpu = cpus();
  const result = {
    at: new Date().toISOString(),
    git: gitInfo(),
    machine: {
      cpuCount: cpu.length,
      cpuModel: cpu[0]?.model.trim() ?? 'unknown',
      memoryGb: Math.round(totalmem() / 2 ** 30),
      os: `${process.platform} ${release()}`,
      node: process.version,
      postgres: await postgresVersion(),
      loadAvg: loadavg().map((l) => Number(l.toFixed(2))),
    },
    run: run ?? null,
    benches,
  };
  const md = markdown(result);
  writeFileSync(join(__dirname, 'results.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(__dirname, 'results.md'), md);
  process.stdout.write(`\n${md}\n`);
  log('report written to bench/results.json and bench/results.md');
  const entries = Object.values(benches);
  return {
    complete: entries.every((b) => b.status === 'ok'),
    allPassed: entries.every((b) => b.figures.every((f) => f.pass !== false)),
  };
}

if (require.main === module) {
  report().catch((err: Error) => {
    process.stderr.write(`[bench] report failed: ${err.stack ?? err.message}\n`);
    process.exitCode = 1;
  });
}
