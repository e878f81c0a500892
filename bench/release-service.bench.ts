/**
 * Release-create benchmark: the built release-service over HTTP against a bare `pg` baseline doing
 * the same writes, plus commit→Kafka latency of the outbox relay, in one run.
 *   npm run bench:release-service
 * Knobs (env): BENCH_CONCURRENCY (16), BENCH_DURATION_S (15) or BENCH_REQUESTS, BENCH_WARMUP_S (2),
 * BENCH_PROJECTS (8), BENCH_PARTITIONS (3), BENCH_LOG_LEVEL (warn), BENCH_BASELINE (bare|mirror|none),
 * BENCH_SERVICE_NODE_ARGS (extra node flags for the service, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof"),
 * DATABASE_URL, KAFKA_BROKERS. Figures go to stdout and bench/results/release-service.json.
 * Targets are printed as PASS/MISS; a miss never fails the run (benchmarks print, tests assert).
 */
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import jwt from 'jsonwebtoken';
import { Pool as PgPool } from 'pg';
import { Pool } from 'undici';
import { CpuWindow, cpuWindow } from './support/cpu';
import { BaselineMode, baselineOp, createBaselineDatabase, databaseUrl, dropDatabase } from './support/baseline';
import { benchKafka, collectReleaseCreated, createLogAppendTimeTopic, deleteTopics } from './support/kafka';
import { LoadResult, runLoad, wallNow } from './support/load';
import { backgroundBusyPct, gitInfo, log, num } from './support/run';
import { RunningService, serviceDatabase, startReleaseService, UNREACHABLE_RATE_LIMIT } from './support/service';
import { writeResults } from './support/results';
import { markdownTable, round, summarize, Summary, Target, targetLines } from './support/stats';

const baselineMode = (process.env['BENCH_BASELINE'] ?? 'bare') as BaselineMode | 'none';
if (!['bare', 'mirror', 'none'].includes(baselineMode)) throw new Error('BENCH_BASELINE must be bare, mirror or none');
const cfg = {
  concurrency: num('BENCH_CONCURRENCY', 16),
  durationS: num('BENCH_DURATION_S', 15),
  requests: process.env['BENCH_REQUESTS'] ? num('BENCH_REQUESTS', 0) : undefined,
  warmupS: num('BENCH_WARMUP_S', 2, 0),
  projects: num('BENCH_PROJECTS', 8),
  partitions: num('BENCH_PARTITIONS', 3),
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  baseline: baselineMode,
  kafkaTimeoutMs: num('BENCH_KAFKA_TIMEOUT_S', 60) * 1000,
};
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const names = {
  serviceDb: `bench_release_${suffix}`,
  baselineDb: `bench_baseline_${suffix}`,
  topic: `bench-domain-events-${suffix}`,
};
// ~200 bytes, so event payloads have a realistic size rather than a trivial one.
const DESCRIPTION = 'Benchmark release. '.repeat(10);
const measure = (op: (n: number) => Promise<void>) =>
  runLoad({
    concurrency: cfg.concurrency,
    durationMs: cfg.requests ? undefined : cfg.durationS * 1000,
    requests: cfg.requests,
    op,
  });
const warmUp = (op: (n: number) => Promise<void>) =>
  cfg.warmupS > 0 ? runLoad({ concurrency: cfg.concurrency, durationMs: cfg.warmupS * 1000, op }) : undefined;

const kafka = benchKafka(BROKERS);
let service: RunningService | undefined;
let http: Pool | undefined;
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop service', async () => service?.stop()],
      ['close HTTP pool', async () => http?.close()],
      [
        'drop databases',
        () => Promise.all([dropDatabase(SERVER_URL, names.serviceDb), dropDatabase(SERVER_URL, names.baselineDb)]),
      ],
      ['delete topics', () => deleteTopics(kafka, [names.topic, `${names.topic}.dlq`])],
    ];
    for (const [name, step] of steps)
      await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
  })();
  return cleaned;
}

async function postJson(pool: Pool, path: string, token: string, body: unknown): Promise<{ id: number }> {
  const res = await pool.request({
    method: 'POST',
    path,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 201) throw new Error(`POST ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  return JSON.parse(text) as { id: number };
}

async function benchService() {
  await createLogAppendTimeTopic(kafka, names.topic, cfg.partitions);
  service = await startReleaseService(
    {
      ...(await serviceDatabase('release-service', SERVER_URL, names.serviceDb)),
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: names.topic,
      KAFKA_TOPIC_PARTITIONS: String(cfg.partitions),
      AUTH_JWT_SECRET: SECRET,
      LOG_LEVEL: cfg.logLevel,
      // One token at thousands of requests a minute: the limiter still runs on every request (its cost stays in the figures), it never refuses.
      RATE_LIMIT_PER_MINUTE: UNREACHABLE_RATE_LIMIT,
    },
    (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
  );
  log(`release-service ready at ${service.url} (pid ${service.pid})`);
  const token = jwt.sign({ sub: '1', name: 'bench', admin: true }, SECRET, { algorithm: 'HS256', expiresIn: '1h' });
  http = new Pool(service.url, { connections: cfg.concurrency, pipelining: 1 });
  const pool = http;
  const group = await postJson(pool, '/api/v4/groups', token, { path: `bench-${suffix}`, name: 'Bench' });
  const projectIds: number[] = [];
  for (let i = 0; i < cfg.projects; i++)
    projectIds.push(
      (await postJson(pool, '/api/v4/projects', token, { path: `p${i}`, name: `P${i}`, namespace_id: group.id })).id,
    );

  const receivedAt = new Map<number, number>();
  const createRelease = (prefix: string, record: boolean) => async (n: number) => {
    const tag = `${prefix}${n}`;
    const res = await pool.request({
      method: 'POST',
      path: `/api/v4/projects/${projectIds[n % projectIds.length]}/releases`,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ tag_name: tag, name: `Release ${tag}`, description: DESCRIPTION }),
    });
    // The response leaves the service only after COMMIT, so its arrival is an upper bound of the commit time.
    const at = wallNow();
    const text = await res.body.text();
    if (res.statusCode !== 201) throw new Error(`HTTP ${res.statusCode} ${text.slice(0, 300)}`);
    if (record) receivedAt.set((JSON.parse(text) as { id: number }).id, at);
  };
  await warmUp(createRelease('w', false));
  const stopCpu = cpuWindow(service.pid);
  const load = await measure(createRelease('m', true));
  const cpu = stopCpu();
  log(
    `service: ${load.latenciesMs.length} ok, ${load.errors} errors in ${round(load.elapsedMs / 1000)} s; waiting for Kafka`,
  );

  // Approximation: broker append time − 201 arrival, both on this machine's clock. The 201 reaches
  // the client a little after COMMIT and the relay can publish the row in between (woken by an
  // earlier commit), so some values may be slightly negative; they are reported as measured.
  const collected = await collectReleaseCreated(
    kafka,
    names.topic,
    `bench-${suffix}`,
    new Set(receivedAt.keys()),
    cfg.kafkaTimeoutMs,
  );
  const commitToKafka = [...collected.appendedAt].map(([id, appended]) => appended - (receivedAt.get(id) ?? NaN));
  const exitCode = await service.stop();
  log(`release-service stopped (exit ${exitCode}); ${collected.missing} releases missing from Kafka`);
  return { load, cpu, commitToKafka: summarize(commitToKafka), kafkaMissing: collected.missing, exitCode };
}

async function benchBaseline(mode: BaselineMode): Promise<{ load: LoadResult; cpu: CpuWindow }> {
  await createBaselineDatabase(SERVER_URL, names.baselineDb, cfg.projects);
  const pg = new PgPool({ connectionString: databaseUrl(SERVER_URL, names.baselineDb), max: cfg.concurrency });
  try {
    const op = baselineOp(pg, mode, cfg.projects, DESCRIPTION, names.topic);
    await warmUp(op);
    const stopCpu = cpuWindow(undefined);
    const load = await measure(op);
    return { load, cpu: stopCpu() };
  } finally {
    await pg.end();
  }
}

const loadFigures = (r: { load: LoadResult; cpu: CpuWindow } | undefined) => r && figures(r.load, r.cpu);
const figures = (r: LoadResult, cpu: CpuWindow) => ({
  requests: r.latenciesMs.length,
  errors: r.errors,
  errorSamples: r.errorSamples,
  elapsedS: round(r.elapsedMs / 1000, 3),
  throughput: round(r.throughput, 1),
  latencyMs: roundSummary(summarize(r.latenciesMs)),
  cpuMsPerRequest: {
    service: round((cpu.processS * 1000) / r.latenciesMs.length, 3),
    loadGenerator: round((cpu.selfS * 1000) / r.latenciesMs.length, 3),
  },
  machineBusyPct: round(cpu.machineBusy * 100, 1),
});
const roundSummary = (s: Summary) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 3)])) as unknown as Summary;

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: concurrency ${cfg.concurrency}, ${cfg.requests ? `${cfg.requests} requests` : `${cfg.durationS} s`}, warm-up ${cfg.warmupS} s, ${cfg.projects} projects, LOG_LEVEL=${cfg.logLevel}, baseline ${cfg.baseline}`,
  );
  const svc = await benchService();
  const base = cfg.baseline === 'none' ? undefined : await benchBaseline(cfg.baseline);
  const s = figures(svc.load, svc.cpu);
  const b = loadFigures(base);
  const targets: Target[] = [
    { name: 'throughput (releases/s)', goal: '>= 500', value: s.throughput, pass: s.throughput >= 500 },
    { name: 'HTTP p99 (ms)', goal: '< 50', value: s.latencyMs.p99, pass: s.latencyMs.p99 < 50 },
    { name: 'commit→Kafka p50 (ms)', goal: '< 50', value: svc.commitToKafka.p50, pass: svc.commitToKafka.p50 < 50 },
  ];
  const table = markdownTable([
    { metric: 'throughput (req/s)', service: s.throughput, baseline: b?.throughput, digits: 1 },
    ...(['p50', 'p95', 'p99', 'max'] as const).map((p) => ({
      metric: `latency ${p} (ms)`,
      service: s.latencyMs[p],
      baseline: b?.latencyMs[p],
    })),
    { metric: 'requests (201 / committed)', service: s.requests, baseline: b?.requests, digits: 0 },
    { metric: 'errors', service: s.errors, baseline: b?.errors, digits: 0 },
    { metric: 'service process CPU per request (ms)', service: s.cpuMsPerRequest.service, baseline: undefined },
    {
      metric: 'load generator CPU per request (ms)',
      service: s.cpuMsPerRequest.loadGenerator,
      baseline: b?.cpuMsPerRequest.loadGenerator,
    },
    {
      metric: 'machine CPU busy (%, 2 cores = 100)',
      service: s.machineBusyPct,
      baseline: b?.machineBusyPct,
      digits: 1,
    },
    ...(['p50', 'p95', 'p99'] as const).map((p) => ({
      metric: `commit→Kafka ${p} (ms)`,
      service: svc.commitToKafka[p],
      baseline: undefined,
    })),
  ]);
  process.stdout.write(`\n${table}\n\nTargets:\n${targetLines(targets)}\n`);
  for (const sample of [...s.errorSamples, ...(b?.errorSamples ?? [])]) log(`error sample: ${sample}`);
  if (svc.kafkaMissing > 0)
    log(
      `WARNING: ${svc.kafkaMissing} ReleaseCreated records did not reach Kafka within ${cfg.kafkaTimeoutMs / 1000} s`,
    );

  const results = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: cfg,
    service: {
      ...s,
      commitToKafkaMs: { ...roundSummary(svc.commitToKafka), missing: svc.kafkaMissing },
      exitCode: svc.exitCode,
    },
    baseline: b && { mode: cfg.baseline, ...b },
    targets,
  };
  writeResults('release-service', results, [
    { name: 'throughput (releases/s)', value: s.throughput, baseline: b?.throughput, goals: [{ goal: '>= 500' }] },
    ...(['p50', 'p95', 'p99'] as const).map((p) => ({
      name: `HTTP latency ${p} (ms)`,
      value: s.latencyMs[p],
      baseline: b?.latencyMs[p],
      goals: p === 'p99' ? [{ goal: '< 50' }] : undefined,
    })),
    ...(['p50', 'p95', 'p99'] as const).map((p) => ({
      name: `commit→Kafka ${p} (ms)`,
      value: svc.commitToKafka[p],
      goals: p === 'p50' ? [{ goal: '< 50' }] : undefined,
    })),
    { name: 'errors', value: s.errors, baseline: b?.errors },
  ]);
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err: Error) => {
    process.exitCode = 1;
    process.stderr.write(
      `[bench] failed: ${err.stack ?? err.message}\n${service ? `--- release-service log tail ---\n${service.logTail().slice(-4000)}\n` : ''}`,
    );
  })
  .finally(() => cleanup());
