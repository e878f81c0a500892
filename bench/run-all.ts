/**
 * Runs every benchmark, one after the other on the same built code, then bench/report.ts.
 *   npm run bench            (builds, then runs this)
 * A benchmark that fails does not stop the others: the report names it, and this exits 1 when any
 * benchmark failed. A missed target is a FAIL in the table, not an exit code: benchmarks print, tests assert.
 * Knobs (env): BENCH_ONLY=<comma-separated names> to run a subset; every benchmark's own knobs pass through.
 */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { BenchRun, report } from './report';
import { log } from './support/run';

const BENCHES = [
  'release-service',
  'recorder',
  'recorder-query',
  'recorder-exports',
  'streamer',
  'e2e',
  'graphql-validation',
  'fleet',
  'observability',
  'verify',
];

function runBench(name: string): Promise<BenchRun> {
  const t0 = performance.now();
  log(`=== ${name} ===`);
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, `${name}.bench.ts`)], {
    cwd: join(__dirname, '..'),
    stdio: 'inherit',
  });
  return new Promise((resolve) => {
    child.once('exit', (code, signal) => {
      const seconds = Math.round((performance.now() - t0) / 100) / 10;
      log(`=== ${name}: ${code === 0 ? 'done' : `FAILED (exit ${code ?? signal})`} in ${seconds} s ===`);
      resolve({ name, exitCode: code ?? 128, seconds });
    });
  });
}

async function main(): Promise<void> {
  const only = process.env['BENCH_ONLY']
    ?.split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const unknown = only?.filter((n) => !BENCHES.includes(n)) ?? [];
  if (unknown.length > 0)
    throw new Error(`BENCH_ONLY: unknown benchmarks ${unknown.join(', ')} (known: ${BENCHES.join(', ')})`);
  const startedAt = Date.now();
  const benches: BenchRun[] = [];
  for (const name of BENCHES.filter((n) => !only || only.includes(n))) benches.push(await runBench(name));
  const { complete, allPassed } = await report({ startedAt, benches });
  log(
    `total ${Math.round((Date.now() - startedAt) / 1000)} s: ${benches.map((b) => `${b.name} ${b.seconds} s`).join(', ')}`,
  );
  if (!allPassed) log('some targets were missed (FAIL in the table)');
  if (!complete) {
    log('a benchmark failed: its figures are missing from the report');
    process.exitCode = 1;
  }
}

main().catch((err: Error) => {
  process.stderr.write(`[bench] ${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
