/**
 * Concurrent-export benchmark (issue item 12): 40 CSV exports of a 300,000-event project fired at
 * once at the built audit-recorder, while a reader keeps asking for the project's first page of audit
 * events; beside the same recorder idle (same run, same process, no export running).
 *   npm run bench:recorder-exports
 * The attack as reported: 40 concurrent 300,000-row exports took the recorder from 115 to 462 MB RSS
 * and its list latency to 4.7 s. Two scenarios, each on a freshly started recorder (so neither
 * inherits the other's heap), on the same seeded database:
 *  - one-token: all BENCH_EXPORTS exports from one admin token (the attack as reported);
 *  - many-users: one export each from BENCH_EXPORTS auditors (distinct `sub`).
 * Per scenario: warm-up, then BENCH_IDLE_S of the list loop alone (the idle baseline: list latency,
 * RSS), then the exports with the list loop still running, until every served export has ended.
 * Knobs (env): BENCH_ROWS (300000), BENCH_EXPORTS (40), BENCH_LIST_MODE (closed|open), BENCH_LIST_RATE (50 list requests/s at most),
 * BENCH_WARMUP_S (5), BENCH_IDLE_S (10), BENCH_TIMEOUT_S (900, per scenario), BENCH_SCENARIOS
 * (one-token,many-users), BENCH_LOG_LEVEL (warn), BENCH_SERVICE_NODE_ARGS (extra node flags),
 * BENCH_SERVICE_ROOT (run the recorder built in another checkout, e.g. the code before a change),
 * BENCH_DB_ROLES (service|superuser; see support/service.ts), DATABASE_URL, KAFKA_BROKERS.
 * Figures go to stdout and bench/results/recorder-exports.json. A missed target never fails the run.
 *
 * The list loop is one reader, a maintainer of the project with a `sub` of its own, at most
 * BENCH_LIST_RATE requests/s: 50/s = 3,000 a minute, under the default RATE_LIMIT_PER_MINUTE (7,200),
 * which this benchmark leaves as deployed. closed (default): one request at a time, the next when the
 * previous has answered (and 1/BENCH_LIST_RATE s after it started): each latency is what a user
 * clicking through pages waits. open: request n is due at start + n / BENCH_LIST_RATE whatever the
 * earlier ones do, timed from then (support/e2e-load.ts explains why), so a stall is charged to every
 * request due during it; when the recorder answers fewer than BENCH_LIST_RATE a second, the backlog
 * grows for as long as the exports run and the latencies say how long they ran rather than how slow
 * one page was.
 * Every export is read to its end and its lines counted as they arrive (nothing is buffered but the
 * first 64 KB); served = HTTP 200 with every seeded row (see exportEventRows for the export events
 * that may precede them), refused = HTTP 429 with Retry-After.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import jwt from 'jsonwebtoken';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { Pool } from 'undici';
import { ChainSeeder, dropAuditEventIndexes, ensureMonths, SEED_COLUMNS, signingKeyFile } from './support/audit-chain';
import { databaseUrl, dropDatabase } from './support/baseline';
import { cpuWindow } from './support/cpu';
import { deleteTopics } from './support/kafka';
import {
  peakRssMb,
  recorderTable,
  RssSamples,
  RunningRecorder,
  sampleRss,
  startRecorder,
} from './support/recorder-service';
import { FigureInput, figuresTable, writeResults } from './support/results';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { DatabaseEnv, dbRolesMode, SERVICE_ROOT, serviceDatabase } from './support/service';
import { round, summarize, Summary } from './support/stats';
import { commandCpuS } from './support/streamer-service';

const SCENARIOS = ['one-token', 'many-users'] as const;
type ScenarioName = (typeof SCENARIOS)[number];

const cfg = {
  rows: num('BENCH_ROWS', 300_000, 1000),
  exports: num('BENCH_EXPORTS', 40),
  listMode: (process.env['BENCH_LIST_MODE'] ?? 'closed') as 'closed' | 'open',
  listRate: num('BENCH_LIST_RATE', 50),
  warmupS: num('BENCH_WARMUP_S', 5, 0),
  idleS: num('BENCH_IDLE_S', 10),
  timeoutS: num('BENCH_TIMEOUT_S', 900),
  scenarios: (process.env['BENCH_SCENARIOS'] ?? SCENARIOS.join(','))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean) as ScenarioName[],
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  serviceNodeArgs: (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
  serviceRoot: SERVICE_ROOT,
  dbRoles: dbRolesMode(),
};
if (!['closed', 'open'].includes(cfg.listMode)) throw new Error('BENCH_LIST_MODE must be closed or open');
const unknownScenarios = cfg.scenarios.filter((s) => !SCENARIOS.includes(s));
if (unknownScenarios.length > 0)
  throw new Error(`BENCH_SCENARIOS: unknown ${unknownScenarios.join(', ')} (known: ${SCENARIOS.join(', ')})`);
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const names = {
  db: `bench_recexports_${suffix}`,
  topic: `bench-recexports-${suffix}`,
  auditLog: join(tmpdir(), `bench-recexports-${suffix}.log`),
  signingKey: join(tmpdir(), `bench-recexports-${suffix}.pem`),
};
const GROUP_PATH = 'bench-exports';
const PROJECT_ID = 1;
const PROJECT_PATH = `${GROUP_PATH}/p${PROJECT_ID}`;
const DAY_MS = 86_400_000;
/** Seeded events end a day before the run: the exports' own audit events (created now) sort before all of them. */
const SEED_END = Date.now() - DAY_MS;
const SEED_SPAN_MS = 730 * DAY_MS;
/** The seeded rows' hash chains, events dealt to them in turn (the recorder's own audit events extend the topic's). */
const SEED_CHAINS = ['bench-seed/0', 'bench-seed/1', 'bench-seed/2'];
const LIST_PATH = `/api/v4/projects/${PROJECT_ID}/audit_events?per_page=20`;
const EXPORT_PATH = `/api/v4/projects/${PROJECT_ID}/audit_events/export.csv`;
const HEAD_BYTES = 64 * 1024;
/** Target Type and Target Details of both export audit events (audit_events_export_started, audit_events_exported). */
const EXPORT_EVENT_MARK = ',,AuditEvent,CSV export,';

const kafka = new Kafka({ brokers: BROKERS, clientId: 'recorder-exports-bench', logLevel: logLevel.NOTHING });
let service: RunningRecorder | undefined;
const pools = new Set<Pool>();
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['close HTTP pools', () => Promise.all([...pools].map((p) => p.destroy()))],
      ['stop service', async () => service?.stop()],
      ['drop database', () => dropDatabase(SERVER_URL, names.db)],
      ['delete topics', () => deleteTopics(kafka, [names.topic, `${names.topic}.dlq`])],
      ['remove audit log', async () => rmSync(names.auditLog, { force: true })],
      ['remove signing key', async () => rmSync(names.signingKey, { force: true })],
    ];
    for (const [name, step] of steps)
      await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
  })();
  return cleaned;
}

async function createTopic(): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic: names.topic, numPartitions: 1, replicationFactor: -1 }],
    });
  } finally {
    await admin.disconnect();
  }
}

let database: DatabaseEnv | undefined;

/**
 * The recorder as deployed: its node flags (startRecorder), NODE_ENV=production, default export caps
 * and rate limit, its database provisioned by the superuser and used through its own roles (or, for a
 * build before the roles, single-role mode: support/service.ts), a checkpoint signing key of its own
 * (production requires one; a build before issue 16 ignores it).
 */
const launch = async () =>
  startRecorder(
    {
      ...(database ??= await serviceDatabase('audit-recorder', SERVER_URL, names.db)),
      NODE_ENV: 'production',
      AUDIT_SIGNING_KEY_FILE: names.signingKey,
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: names.topic,
      KAFKA_GROUP_ID: `bench-recexports-${suffix}`,
      AUDIT_LOG_FILE: names.auditLog,
      AUTH_JWT_SECRET: SECRET,
      LOG_LEVEL: cfg.logLevel,
    },
    cfg.serviceNodeArgs,
  );

/**
 * The group, its project and BENCH_ROWS audit events of the project, created_at spread evenly over the
 * two years before SEED_END (25 monthly partitions, created first); written as the superuser into the
 * tables the recorder's migrations created, secondary indexes and primary key dropped and then rebuilt
 * from their own definitions (as recorder-query.bench.ts does: several times faster than maintaining
 * them row by row). Every row is a valid link of one of SEED_CHAINS hash chains (hashed by PostgreSQL
 * while seeding, support/audit-chain.ts), heads stored as the recorder leaves them.
 */
async function seed(pg: Client): Promise<number> {
  const t0 = performance.now();
  await pg.query(`set synchronous_commit = off; set maintenance_work_mem = '256MB'; set work_mem = '128MB'`);
  await pg.query(
    `insert into namespaces (kind, id, full_path, parent_id) values ('Group', 1, $1, null), ('Project', $2, $3, 1)`,
    [GROUP_PATH, PROJECT_ID, PROJECT_PATH],
  );
  await ensureMonths(pg, SEED_END - SEED_SPAN_MS, SEED_END);
  const restoreIndexes = await dropAuditEventIndexes(pg);
  const seeder = new ChainSeeder(pg, SEED_CHAINS);
  const slice = 100_000;
  for (let lo = 1; lo <= cfg.rows; lo += slice) {
    const hi = Math.min(lo + slice - 1, cfg.rows);
    await seeder.insert(
      `select ${SEED_COLUMNS} from (
       select i, id, event_type, author_id, author_name, 'Project'::text as entity_type, $4::bigint as entity_id,
         $5::text as entity_path, 'Release'::text as target_type, i as target_id, created_at, (i % $8::int)::int as chain,
         json_build_object(
           'id', id, 'author_id', author_id, 'entity_id', $4::bigint, 'entity_type', 'Project',
           'details', json_build_object('author_name', author_name, 'target_id', i, 'target_type', 'Release', 'target_details', 'Release ' || i,
             'custom_message', message, 'ip_address', '203.0.113.7', 'entity_path', $5::text, 'correlation_id', 'corr-' || i),
           'ip_address', '203.0.113.7', 'author_name', author_name, 'entity_path', $5::text, 'target_details', 'Release ' || i,
           'created_at', to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'target_type', 'Release', 'target_id', i, 'event_type', event_type) as payload
       from (
         select i, gen_random_uuid() as id, 1 + i % 200 as author_id, 'user' || (1 + i % 200) as author_name,
           case when i % 10 < 7 then 'release_created' when i % 10 < 9 then 'release_updated' else 'release_deleted' end as event_type,
           case when i % 10 < 7 then 'Created Release v' || i when i % 10 < 9 then 'Updated Release v' || i else 'Deleted Release v' || i end as message,
           date_trunc('milliseconds', to_timestamp($6::float8 / 1000) + (i::float8 / $3::float8) * ($7::float8 / 1000) * interval '1 second') as created_at
         from generate_series($1::bigint, $2::bigint) i
       ) r
       ) seeded`,
      [lo, hi, cfg.rows, PROJECT_ID, PROJECT_PATH, SEED_END - SEED_SPAN_MS, SEED_SPAN_MS, SEED_CHAINS.length],
    );
    log(`seeded ${hi} / ${cfg.rows} rows (${round((performance.now() - t0) / 1000, 1)} s)`);
  }
  await seeder.finish();
  await restoreIndexes();
  await pg.query('vacuum (analyze) audit_events');
  await pg.query('vacuum (analyze) namespaces');
  return round((performance.now() - t0) / 1000, 1);
}

const token = (claims: Record<string, unknown>) => jwt.sign(claims, SECRET, { algorithm: 'HS256', expiresIn: '2h' });

interface ListSample {
  due: number;
  ms: number;
  status: number;
}

/**
 * GET the project's first page, at most `rate` a second. closed: one at a time, each timed from when
 * it was sent. open: request n is due at start + n × interval, sent then whether or not earlier ones
 * have answered (queued in the pool's connections beyond them), and timed from when it was due.
 */
class ListLoop {
  private readonly samples: ListSample[] = [];
  private readonly inFlight = new Map<number, Promise<void>>();
  private running = false;
  private loop: Promise<void> | undefined;
  errors: string[] = [];

  constructor(
    private readonly pool: Pool,
    private readonly auth: string,
    private readonly rate: number,
    private readonly mode: 'closed' | 'open',
  ) {}

  start(): void {
    this.running = true;
    const interval = 1000 / this.rate;
    const t0 = performance.now();
    this.loop = (async () => {
      for (let n = 0; this.running && this.mode === 'closed'; n++) {
        const due = performance.now();
        const p = this.one(due).finally(() => this.inFlight.delete(n));
        this.inFlight.set(n, p);
        await p;
        const wait = due + interval - performance.now();
        if (wait > 0) await sleep(wait);
      }
      for (let n = 0; this.running && this.mode === 'open'; n++) {
        const due = t0 + n * interval;
        const wait = due - performance.now();
        if (wait > 0) await sleep(wait);
        if (!this.running) break;
        const id = n;
        const p = this.one(due).finally(() => this.inFlight.delete(id));
        this.inFlight.set(id, p);
      }
    })();
  }

  private async one(due: number): Promise<void> {
    let status = 0;
    try {
      const res = await this.pool.request({
        method: 'GET',
        path: LIST_PATH,
        headers: { authorization: `Bearer ${this.auth}` },
      });
      status = res.statusCode;
      const text = await res.body.text();
      if (status !== 200 && this.errors.length < 5) this.errors.push(`HTTP ${status} ${text.slice(0, 200)}`);
      else if (status === 200 && (JSON.parse(text) as unknown[]).length !== 20 && this.errors.length < 5)
        this.errors.push(`expected 20 events, got ${text.slice(0, 100)}`);
    } catch (err) {
      if (this.errors.length < 5) this.errors.push((err as Error).message);
    }
    this.samples.push({ due, ms: performance.now() - due, status });
  }

  /** The samples of requests due in [from, to), once every one of them has answered. */
  async window(from: number, to: number): Promise<ListSample[]> {
    await Promise.all([...this.inFlight.values()]);
    return this.samples.filter((s) => s.due >= from && s.due < to);
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await Promise.all([...this.inFlight.values()]);
  }
}

interface ListFigures {
  requests: number;
  ok: number;
  /** Answers other than 200, by status (0: no answer). */
  notOk: Record<string, number>;
  latencyMs: Summary;
  /** The five slowest: seconds into the phase when each was sent (or due), and its latency. */
  slowest: Array<{ atS: number; ms: number }>;
}

function listFigures(samples: ListSample[], from: number): ListFigures {
  const notOk: Record<string, number> = {};
  for (const s of samples) if (s.status !== 200) notOk[s.status] = (notOk[s.status] ?? 0) + 1;
  const latency = summarize(samples.filter((s) => s.status === 200).map((s) => s.ms));
  const slowest = [...samples]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 5)
    .map((s) => ({ atS: round((s.due - from) / 1000, 2), ms: round(s.ms, 1) }));
  return {
    requests: samples.length,
    ok: samples.filter((s) => s.status === 200).length,
    notOk,
    latencyMs: roundSummary(latency),
    slowest,
  };
}
const roundSummary = (s: Summary) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 2)])) as unknown as Summary;

interface ExportResult {
  status: number;
  retryAfter?: string;
  /** Milliseconds from the common start to the last byte (or the refusal). */
  ms: number;
  bytes: number;
  /** CSV data rows (lines after the header). */
  rows: number;
  /** Leading rows that are export audit events, not seeded rows. */
  exportEventRows: number;
  complete: boolean;
  error?: string;
}

/**
 * One export read to its end, counting CRLF-terminated lines as they arrive. The export's own
 * audit_events_export_started is written after its first batch was read, and everything is sorted
 * newest first, so it never appears in its own CSV; other exports' start (and, before the fix, end)
 * events stored by then do, at the top, before every seeded row (those end a day ago). They are
 * counted from the head of the CSV (Target Type AuditEvent, Target Details "CSV export"), and
 * complete means: the header, exactly BENCH_ROWS seeded rows after them, and a final CRLF.
 */
async function exportOnce(pool: Pool, auth: string, t0: number): Promise<ExportResult> {
  try {
    const res = await pool.request({
      method: 'GET',
      path: EXPORT_PATH,
      headers: { authorization: `Bearer ${auth}` },
      bodyTimeout: 0,
      headersTimeout: cfg.timeoutS * 1000,
    });
    if (res.statusCode !== 200) {
      const text = await res.body.text();
      const retryAfter = res.headers['retry-after'];
      return {
        status: res.statusCode,
        retryAfter: typeof retryAfter === 'string' ? retryAfter : undefined,
        ms: performance.now() - t0,
        bytes: text.length,
        rows: 0,
        exportEventRows: 0,
        complete: false,
        error: res.statusCode === 429 && retryAfter ? undefined : `HTTP ${res.statusCode} ${text.slice(0, 200)}`,
      };
    }
    let lines = 0;
    let bytes = 0;
    let last = 0;
    const head: Buffer[] = [];
    let headBytes = 0;
    for await (const chunk of res.body as AsyncIterable<Buffer>) {
      bytes += chunk.length;
      if (headBytes < HEAD_BYTES) {
        head.push(chunk);
        headBytes += chunk.length;
      }
      for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
      if (chunk.length > 0) last = chunk[chunk.length - 1];
    }
    const headLines = Buffer.concat(head).toString('utf8').split('\r\n').slice(1, -1);
    let exportEventRows = 0;
    while (exportEventRows < headLines.length && headLines[exportEventRows].includes(EXPORT_EVENT_MARK))
      exportEventRows++;
    const rows = lines - 1;
    return {
      status: 200,
      ms: performance.now() - t0,
      bytes,
      rows,
      exportEventRows,
      complete: last === 10 && rows - exportEventRows === cfg.rows,
    };
  } catch (err) {
    return {
      status: 0,
      ms: performance.now() - t0,
      bytes: 0,
      rows: 0,
      exportEventRows: 0,
      complete: false,
      error: (err as Error).message,
    };
  }
}

interface Phase {
  seconds: number;
  list: ListFigures;
  rss: RssSamples;
  /** The kernel's high-water mark of the recorder's RSS at the end of the phase (since it started). */
  hwmMb: number;
  recorderCpuS: number;
  benchCpuS: number;
  machineBusyPct: number;
  /**
   * The machine's busy share not spent by the recorder, this bench, PostgreSQL or Kafka (%, 2 cores =
   * 100): someone else's load (another engineer's tests) competing for the cores. PostgreSQL and Kafka
   * are shared, so their other users' CPU is not in it: a lower bound.
   */
  otherBusyPct: number;
  /** The bench process's own event-loop delay p99 (ms): when high, list latencies include the bench's. */
  benchLoopDelayP99Ms: number;
}

interface ScenarioResult {
  scenario: ScenarioName;
  idle: Phase;
  exports: Phase & {
    served: number;
    refused: number;
    failed: number;
    incomplete: number;
    /** From firing them all to the end of the last served export. */
    wallS: number;
    servedSeconds: Summary;
    exportEventRows: number[];
    retryAfter: string[];
    statuses: Record<string, number>;
    errors: string[];
  };
  /** Export audit events in the project after the scenario (cumulative over the run), by type. */
  exportEventsStored: Record<string, number>;
  listErrors: string[];
  exitCode: number | null;
}

/** What the recorder's requests also run on: every PostgreSQL process and the Kafka broker. */
const SHARED_COMMANDS = ['postgres', 'java'];

async function measurePhase(
  pid: number | undefined,
  body: () => Promise<{ from: number; to: number }>,
  list: ListLoop,
): Promise<Phase> {
  const stopRss = sampleRss(pid);
  const stopCpu = cpuWindow(pid);
  const shared0 = commandCpuS(SHARED_COMMANDS);
  const t0 = performance.now();
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const { from, to } = await body();
  const cpu = stopCpu();
  const sharedS = commandCpuS(SHARED_COMMANDS) - shared0;
  const coreS = ((performance.now() - t0) / 1000) * cpus().length;
  const otherBusyPct = Math.max(0, cpu.machineBusy * 100 - ((cpu.processS + cpu.selfS + sharedS) / coreS) * 100);
  const rss = stopRss();
  delay.disable();
  const hwmMb = round(peakRssMb(pid), 1);
  const samples = await list.window(from, to);
  return {
    seconds: round((to - from) / 1000, 2),
    list: listFigures(samples, from),
    rss,
    hwmMb,
    recorderCpuS: round(cpu.processS, 2),
    benchCpuS: round(cpu.selfS, 2),
    machineBusyPct: round(cpu.machineBusy * 100, 1),
    otherBusyPct: round(otherBusyPct, 1),
    benchLoopDelayP99Ms: round(delay.percentile(99) / 1e6, 1),
  };
}

async function exportEventsStored(pg: Client): Promise<Record<string, number>> {
  const { rows } = await pg.query<{ event_type: string; n: string }>(
    `select event_type, count(*) as n from audit_events where entity_type = 'Project' and entity_id = $1 and event_type in ('audit_events_export_started', 'audit_events_exported') group by event_type`,
    [PROJECT_ID],
  );
  return Object.fromEntries(rows.map((r) => [r.event_type, Number(r.n)]));
}

async function scenario(name: ScenarioName, pg: Client): Promise<ScenarioResult> {
  service = await launch();
  const svc = service;
  log(
    `[${name}] audit-recorder ready at ${svc.url} (pid ${svc.pid}), ${round(peakRssMb(svc.pid), 1)} MB high-water after boot`,
  );
  const listPool = new Pool(svc.url, { connections: 16, pipelining: 1 });
  const exportPool = new Pool(svc.url, { connections: cfg.exports, pipelining: 1 });
  pools.add(listPool);
  pools.add(exportPool);
  // A maintainer of the project, a user of its own: neither scenario's exporters share its rate limit.
  const reader = token({ sub: '900', name: 'bench-reader', groups: { [GROUP_PATH]: 'maintainer' } });
  const exporters =
    name === 'one-token'
      ? Array.from({ length: cfg.exports }, () => token({ sub: '1', name: 'bench-admin', admin: true }))
      : Array.from({ length: cfg.exports }, (_, i) =>
          token({ sub: String(1001 + i), name: `bench-auditor-${i + 1}`, auditor: true }),
        );
  const list = new ListLoop(listPool, reader, cfg.listRate, cfg.listMode);
  const storedBefore = await exportEventsStored(pg);
  try {
    list.start();
    if (cfg.warmupS > 0) await sleep(cfg.warmupS * 1000);
    const idle = await measurePhase(
      svc.pid,
      async () => {
        const from = performance.now();
        await sleep(cfg.idleS * 1000);
        return { from, to: performance.now() };
      },
      list,
    );
    log(
      `[${name}] idle: list p50/p95/p99 ${idle.list.latencyMs.p50}/${idle.list.latencyMs.p95}/${idle.list.latencyMs.p99} ms (${idle.list.requests} requests), RSS ${idle.rss.startMb}–${idle.rss.peakMb} MB, high-water ${idle.hwmMb} MB, machine ${idle.machineBusyPct}% busy (${idle.otherBusyPct}% other processes)`,
    );

    let results: ExportResult[] = [];
    const exportsPhase = await measurePhase(
      svc.pid,
      async () => {
        const from = performance.now();
        let timer: NodeJS.Timeout | undefined;
        const deadline = new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`exports not done within BENCH_TIMEOUT_S=${cfg.timeoutS}`)),
            cfg.timeoutS * 1000,
          );
        });
        results = await Promise.race([
          Promise.all(exporters.map((auth) => exportOnce(exportPool, auth, from))),
          deadline,
        ]).finally(() => clearTimeout(timer));
        const served = results.filter((r) => r.status === 200);
        // The phase ends with the last served export (or the last answer, when none was served).
        const to = from + Math.max(...(served.length > 0 ? served : results).map((r) => r.ms));
        return { from, to };
      },
      list,
    );
    await list.stop();
    const served = results.filter((r) => r.status === 200);
    const statuses: Record<string, number> = {};
    for (const r of results) statuses[r.status] = (statuses[r.status] ?? 0) + 1;
    const exports = {
      ...exportsPhase,
      served: served.length,
      refused: results.filter((r) => r.status === 429 && r.retryAfter !== undefined).length,
      failed: results.filter((r) => r.status !== 200 && !(r.status === 429 && r.retryAfter !== undefined)).length,
      incomplete: served.filter((r) => !r.complete).length,
      wallS: round(exportsPhase.seconds, 2),
      servedSeconds: roundSummary(summarize(served.map((r) => r.ms / 1000))),
      exportEventRows: served.map((r) => r.exportEventRows),
      retryAfter: [...new Set(results.map((r) => r.retryAfter).filter((v): v is string => v !== undefined))],
      statuses,
      errors: [...new Set(results.map((r) => r.error).filter((e): e is string => e !== undefined))].slice(0, 5),
    };
    log(
      `[${name}] ${cfg.exports} exports: ${exports.served} served (${served.filter((r) => r.complete).length} complete, rows ${[...new Set(served.map((r) => `${r.rows}`))].join('/')}, export events at the top ${[...new Set(exports.exportEventRows)].join('/')}), ${exports.refused} refused (429, Retry-After ${exports.retryAfter.join('/') || '—'}), ${exports.failed} failed; all served done in ${exports.wallS} s`,
    );
    log(
      `[${name}] during exports: list p50/p95/p99 ${exports.list.latencyMs.p50}/${exports.list.latencyMs.p95}/${exports.list.latencyMs.p99} ms (${exports.list.requests} requests; slowest ${exports.list.slowest.map((x) => `${x.ms} ms at +${x.atS} s`).join(', ')}), RSS peak ${exports.rss.peakMb} MB, high-water ${exports.hwmMb} MB, machine ${exports.machineBusyPct}% busy (${exports.otherBusyPct}% other processes)`,
    );
    for (const e of exports.errors) log(`[${name}] export error: ${e}`);
    // Each served export leaves its audit event(s): wait until the last one is stored (the recorder consumes its own outbox's events).
    let stored = await exportEventsStored(pg);
    const wanted = (storedBefore['audit_events_exported'] ?? 0) + exports.served;
    for (
      const until = Date.now() + 30_000;
      (stored['audit_events_exported'] ?? 0) < wanted && Date.now() < until;
      stored = await exportEventsStored(pg)
    )
      await sleep(250);
    const exitCode = await svc.stop();
    service = undefined;
    return { scenario: name, idle, exports, exportEventsStored: stored, listErrors: list.errors, exitCode };
  } finally {
    await list.stop();
    pools.delete(listPool);
    pools.delete(exportPool);
    await Promise.all([listPool.destroy(), exportPool.destroy()]);
  }
}

const LABELS: Record<ScenarioName, string> = { 'one-token': 'one token', 'many-users': `${cfg.exports} users` };

function figureRows(results: ScenarioResult[]): FigureInput[] {
  return results.flatMap((r) => {
    const at = `${cfg.exports} exports, ${LABELS[r.scenario]}`;
    const e = r.exports;
    const growth = e.hwmMb - r.idle.hwmMb;
    return [
      { name: `${at}: peak RSS (MB, high-water; baseline: idle)`, value: e.hwmMb, baseline: r.idle.hwmMb },
      { name: `${at}: RSS growth over idle (MB)`, value: growth, goals: [{ goal: '< 100' }] },
      ...(['p50', 'p95', 'p99'] as const).map((p) => ({
        name: `${at}: list ${p} during exports (ms, ${cfg.listMode} loop; baseline: idle)`,
        value: e.list.latencyMs[p],
        baseline: r.idle.list.latencyMs[p],
        goals: p === 'p99' ? [{ goal: '< 250' }] : undefined,
      })),
      { name: `${at}: exports served (200, complete CSV)`, value: e.served - e.incomplete },
      { name: `${at}: exports refused (429 with Retry-After)`, value: e.refused },
      { name: `${at}: exports failed or incomplete`, value: e.failed + e.incomplete, goals: [{ goal: '= 0' }] },
      { name: `${at}: wall time until every served export completed (s)`, value: e.wallS },
    ];
  });
}

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.rows} events in project ${PROJECT_PATH}, ${cfg.exports} concurrent exports, list ${cfg.listMode} loop at ≤ ${cfg.listRate}/s; recorder from ${cfg.serviceRoot} (database roles: ${cfg.dbRoles}); machine ${busyBeforePct}% busy before the run`,
  );
  await createTopic();
  signingKeyFile(names.signingKey);
  service = await launch();
  log(`audit-recorder ran its migrations on ${names.db}; stopping it to seed`);
  await service.stop();
  service = undefined;
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, names.db) });
  await pg.connect();
  try {
    const seedS = await seed(pg);
    log(`${cfg.rows} audit events seeded in ${seedS} s`);
    const results: ScenarioResult[] = [];
    for (const name of cfg.scenarios) results.push(await scenario(name, pg));

    for (const r of results) {
      const e = r.exports;
      const table = recorderTable(
        [
          ...(['p50', 'p95', 'p99', 'max'] as const).map((p) => ({
            metric: `list first page ${p} (ms)`,
            recorder: e.list.latencyMs[p],
            baseline: r.idle.list.latencyMs[p],
          })),
          { metric: 'list requests answered 200', recorder: e.list.ok, baseline: r.idle.list.ok, digits: 0 },
          {
            metric: 'list requests answered otherwise',
            recorder: e.list.requests - e.list.ok,
            baseline: r.idle.list.requests - r.idle.list.ok,
            digits: 0,
          },
          { metric: 'RSS high-water (MB)', recorder: e.hwmMb, baseline: r.idle.hwmMb, digits: 1 },
          { metric: 'RSS sampled peak (MB)', recorder: e.rss.peakMb, baseline: r.idle.rss.peakMb, digits: 1 },
          { metric: 'RSS at the end (MB)', recorder: e.rss.endMb, baseline: r.idle.rss.endMb, digits: 1 },
          { metric: 'recorder CPU (s)', recorder: e.recorderCpuS, baseline: r.idle.recorderCpuS },
          { metric: 'phase (s)', recorder: e.seconds, baseline: r.idle.seconds },
          {
            metric: 'machine CPU busy (%, 2 cores = 100)',
            recorder: e.machineBusyPct,
            baseline: r.idle.machineBusyPct,
            digits: 1,
          },
          {
            metric: '… of which other processes (%: not recorder, bench, PostgreSQL, Kafka)',
            recorder: e.otherBusyPct,
            baseline: r.idle.otherBusyPct,
            digits: 1,
          },
          {
            metric: 'bench event-loop delay p99 (ms)',
            recorder: e.benchLoopDelayP99Ms,
            baseline: r.idle.benchLoopDelayP99Ms,
            digits: 1,
          },
        ],
        'idle (no export)',
      );
      process.stdout.write(
        `\n${cfg.exports} exports, ${LABELS[r.scenario]}: ${e.served} served (${e.incomplete} incomplete), ${e.refused} refused, ${e.failed} failed; every served export done in ${e.wallS} s (each: p50 ${e.servedSeconds.p50} s, max ${e.servedSeconds.max} s)\n${table}\n`,
      );
      log(`[${r.scenario}] export audit events stored in the project so far: ${JSON.stringify(r.exportEventsStored)}`);
      if (r.listErrors.length > 0) log(`[${r.scenario}] list errors: ${r.listErrors.join(' | ')}`);
    }
    const details = {
      at: new Date().toISOString(),
      git: gitInfo(),
      node: process.version,
      cpus: cpus().length,
      busyBeforePct,
      config: { ...cfg, database: names.db },
      seedS,
      scenarios: results,
    };
    const written = writeResults('recorder-exports', details, figureRows(results));
    process.stdout.write(
      `\n${figuresTable(written)}\n\n(baseline: the same recorder process idle, list loop alone, just before the exports; list: ${cfg.listMode} loop, ≤ ${cfg.listRate}/s; RSS from the kernel's high-water mark; machine ${busyBeforePct}% busy before the run)\n`,
    );
  } finally {
    await pg.end();
  }
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err: Error) => {
    process.exitCode = 1;
    process.stderr.write(
      `[bench] failed: ${err.stack ?? err.message}\n${service ? `--- audit-recorder log tail ---\n${service.logTail().slice(-4000)}\n` : ''}`,
    );
  })
  .finally(() => cleanup());
