/**
 * Query and export benchmark of the built audit-recorder over a large, SQL-seeded database, beside
 * the equivalent statements run directly through `pg`, in one run.
 *   npm run bench:recorder-query
 * Knobs (env): BENCH_ROWS (5000000), BENCH_PROJECTS (1000), BENCH_GROUPS (50), BENCH_REQUESTS (200 per query shape),
 * BENCH_WARMUP (20), BENCH_DEPTH (50 pages), BENCH_EXPORT_ROWS (1000000), BENCH_LOG_LEVEL (warn),
 * BENCH_KEEP_DB=1 (keep the seeded database and print its name), BENCH_REUSE_DB=<name> (skip seeding, use a kept one),
 * BENCH_SERVICE_NODE_ARGS (extra node flags for the service), DATABASE_URL, KAFKA_BROKERS.
 * Figures go to stdout and bench/results/recorder-query.json. Targets print PASS/MISS; a miss never fails the run.
 *
 * Seeded shape: BENCH_PROJECTS projects in BENCH_GROUPS groups (namespaces filled to match), project 1
 * is hot (every 40th event, 2.5 %), created_at spread evenly over two years from SEED_START, so a
 * created_at window selects a proportional share of rows, and the table has 25 monthly partitions
 * (created first with the recorder's audit_events_ensure_partitions). Every row is a valid link of one of
 * SEED_CHAINS hash chains (events dealt to them in turn, as to a topic's partitions; hashes computed by
 * PostgreSQL while seeding, support/audit-chain.ts), with the heads stored as the recorder leaves them,
 * so the seeded log passes GET /api/v4/audit_events/verify. Requests are sequential (one in flight):
 * the latencies are those of the query path, not of queueing.
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import jwt from 'jsonwebtoken';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { Pool, request } from 'undici';
import { ChainSeeder, dropAuditEventIndexes, ensureMonths, hasChainColumns, SEED_COLUMNS } from './support/audit-chain';
import { databaseUrl, dropDatabase } from './support/baseline';
import { cpuWindow } from './support/cpu';
import { deleteTopics } from './support/kafka';
import { recorderTable, RssSamples, RunningRecorder, sampleRss, startRecorder } from './support/recorder-service';
import { backgroundBusyPct, gitInfo, log, num } from './support/run';
import { DatabaseEnv, serviceDatabase, UNREACHABLE_RATE_LIMIT } from './support/service';
import { writeResults } from './support/results';
import { round, summarize, Summary, Target, targetLines } from './support/stats';

const cfg = {
  rows: num('BENCH_ROWS', 5_000_000, 10_000),
  projects: num('BENCH_PROJECTS', 1000, 2),
  groups: num('BENCH_GROUPS', 50),
  requests: num('BENCH_REQUESTS', 200),
  warmup: num('BENCH_WARMUP', 20, 0),
  depth: num('BENCH_DEPTH', 50),
  exportRows: num('BENCH_EXPORT_ROWS', 1_000_000),
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  keepDb: process.env['BENCH_KEEP_DB'] === '1',
  reuseDb: process.env['BENCH_REUSE_DB'] || undefined,
  serviceNodeArgs: (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
};
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const names = {
  db: cfg.reuseDb ?? `bench_recquery_${suffix}`,
  topic: `bench-recquery-events-${suffix}`,
  auditLog: join(tmpdir(), `bench-recquery-${suffix}.log`),
};
const HOT_PROJECT = 1;
const SEED_START = Date.UTC(2024, 10, 21);
const SEED_SPAN_MS = 730 * 86_400_000;
const DAY_MS = 86_400_000;
/** The seeded rows' hash chains (named apart from the topic's, which the recorder's own audit events extend). */
const SEED_CHAINS = Array.from({ length: 12 }, (_, p) => `bench-seed/${p}`);

const kafka = new Kafka({ brokers: BROKERS, clientId: 'recorder-query-bench', logLevel: logLevel.NOTHING });
let service: RunningRecorder | undefined;
let http: Pool | undefined;
let cleaned: Promise<void> | undefined;

function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop service', async () => service?.stop()],
      ['close HTTP pool', async () => http?.close()],
      [
        'drop database',
        async () =>
          cfg.keepDb || cfg.reuseDb
            ? log(`database kept: BENCH_REUSE_DB=${names.db} to rerun, drop it when done`)
            : dropDatabase(SERVER_URL, names.db),
      ],
      ['delete topics', () => deleteTopics(kafka, [names.topic, `${names.topic}.dlq`])],
      ['remove audit log', async () => rmSync(names.auditLog, { force: true })],
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
 * The database is provisioned by the superuser first (a kept one is handed over to the owner role),
 * then the recorder migrates it as its owner role and serves as its runtime role; the bench seeds and
 * counts as the superuser.
 */
const launch = async () =>
  startRecorder(
    {
      ...(database ??= await serviceDatabase('audit-recorder', SERVER_URL, names.db)),
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: names.topic,
      KAFKA_GROUP_ID: `bench-recquery-${suffix}`,
      AUDIT_LOG_FILE: names.auditLog,
      AUTH_JWT_SECRET: SECRET,
      LOG_LEVEL: cfg.logLevel,
      // One token, sequential requests: the limiter still runs on every request (its cost stays in the figures), it never refuses.
      RATE_LIMIT_PER_MINUTE: UNREACHABLE_RATE_LIMIT,
    },
    cfg.serviceNodeArgs,
  );

/**
 * Bulk seed: the months' partitions are created, the migrations' secondary indexes and primary key
 * dropped, the rows inserted by generate_series in slices, each slice continuing the chains, then the
 * very same index definitions (read from pg_indexes) rebuilt, which is several times faster than
 * maintaining seven b-trees row by row.
 */
async function seed(pg: Client): Promise<number> {
  const t0 = performance.now();
  await pg.query(`set synchronous_commit = off; set maintenance_work_mem = '512MB'; set work_mem = '256MB'`);
  const g = cfg.groups;
  await pg.query(
    `insert into namespaces (kind, id, full_path, parent_id)
     select 'Group', g, 'bench-g' || g, null from generate_series(1, $1::int) g
     union all
     select 'Project', p, 'bench-g' || (((p - 1) % $1::int) + 1) || '/p' || p, ((p - 1) % $1::int) + 1 from generate_series(1, $2::int) p`,
    [g, cfg.projects],
  );
  const partitions = await ensureMonths(pg, SEED_START, SEED_START + SEED_SPAN_MS);
  log(`${partitions} monthly partitions created`);
  const restoreIndexes = await dropAuditEventIndexes(pg);
  const seeder = new ChainSeeder(pg, SEED_CHAINS);
  const slice = 250_000;
  for (let lo = 1; lo <= cfg.rows; lo += slice) {
    const hi = Math.min(lo + slice - 1, cfg.rows);
    await seeder.insert(
      `select ${SEED_COLUMNS} from (
       select i, id, event_type, author_id, author_name, 'Project'::text as entity_type, project::bigint as entity_id,
         path as entity_path, 'Release'::text as target_type, i as target_id, created_at, (i % $7::int)::int as chain,
         json_build_object(
           'id', id, 'author_id', author_id, 'entity_id', project, 'entity_type', 'Project',
           'details', json_build_object('author_name', author_name, 'target_id', i, 'target_type', 'Release', 'target_details', 'Release ' || i,
             'custom_message', message, 'ip_address', '203.0.113.7', 'entity_path', path, 'correlation_id', 'corr-' || i),
           'ip_address', '203.0.113.7', 'author_name', author_name, 'entity_path', path, 'target_details', 'Release ' || i,
           'created_at', to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
           'target_type', 'Release', 'target_id', i, 'event_type', event_type) as payload
       from (
         select i, gen_random_uuid() as id, project, 'bench-g' || (((project - 1) % $4::int) + 1) || '/p' || project as path,
           1 + i % 200 as author_id, 'user' || (1 + i % 200) as author_name,
           case when i % 10 < 7 then 'release_created' when i % 10 < 9 then 'release_updated' else 'release_deleted' end as event_type,
           case when i % 10 < 7 then 'Created Release v' || i when i % 10 < 9 then 'Updated Release v' || i else 'Deleted Release v' || i end as message,
           date_trunc('milliseconds', to_timestamp($5::float8 / 1000) + (i::float8 / $3::float8) * interval '730 days') as created_at
         from (select i, case when i % 40 = 0 then ${HOT_PROJECT} else 2 + i % ($6::int - 1) end as project from generate_series($1::bigint, $2::bigint) i) s
       ) r
       ) seeded`,
      [lo, hi, cfg.rows, g, SEED_START, cfg.projects, SEED_CHAINS.length],
    );
    log(`seeded ${hi} / ${cfg.rows} rows (${round((performance.now() - t0) / 1000, 1)} s)`);
  }
  const heads = await seeder.finish();
  log(`${heads.length} chains, heads stored; rebuilding the indexes`);
  await restoreIndexes();
  log(`indexes rebuilt (${round((performance.now() - t0) / 1000, 1)} s); vacuum analyze`);
  await pg.query('vacuum (analyze) audit_events');
  await pg.query('vacuum (analyze) namespaces');
  return round((performance.now() - t0) / 1000, 1);
}

const iso = (ms: number) => new Date(ms).toISOString();

interface Timed {
  latencyMs: Summary;
  machineBusyPct: number;
}

/** `op` sequentially: warm-up, then `cfg.requests` timed runs. */
async function timeSequential(op: () => Promise<void>, pid: number | undefined): Promise<Timed> {
  for (let i = 0; i < cfg.warmup; i++) await op();
  const stop = cpuWindow(pid);
  const latencies: number[] = [];
  for (let i = 0; i < cfg.requests; i++) {
    const begin = process.hrtime.bigint();
    await op();
    latencies.push(Number(process.hrtime.bigint() - begin) / 1e6);
  }
  const cpu = stop();
  return { latencyMs: roundSummary(summarize(latencies)), machineBusyPct: round(cpu.machineBusy * 100, 1) };
}
const roundSummary = (s: Summary) =>
  Object.fromEntries(Object.entries(s).map(([k, v]) => [k, round(v, 3)])) as unknown as Summary;

async function get(pool: Pool, path: string, token: string): Promise<{ link?: string; count: number }> {
  const res = await pool.request({ method: 'GET', path, headers: { authorization: `Bearer ${token}` } });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  const link = res.headers['link'];
  const next = typeof link === 'string' ? /<([^>]+)>;\s*rel="next"/.exec(link)?.[1] : undefined;
  // Relative (`</api/v4/…>`) unless the service has a PUBLIC_URL; either way only its path and query are used.
  const url = next ? new URL(next, 'http://127.0.0.1') : undefined;
  return { link: url && `${url.pathname}${url.search}`, count: (JSON.parse(text) as unknown[]).length };
}

/** The statement of the service for one project and a window (audit-events.sql.ts, entity scope), keyset bound optional. */
const PAGE_SQL = (
  keyset: boolean,
) => `select a.payload, a.id, to_char(a.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at
  from audit_events a where a.entity_type = 'Project' and a.entity_id = $1 and a.created_at >= $2::timestamptz and a.created_at <= $3::timestamptz
  ${keyset ? 'and (a.created_at, a.id) < ($5::timestamptz, $6::uuid)' : ''} order by a.created_at desc, a.id desc limit $4`;

interface Row {
  payload: {
    id: string;
    author_id: number;
    author_name: string;
    entity_id: number;
    entity_type: string;
    entity_path: string;
    target_id: number | null;
    target_type: string;
    target_details: string;
    ip_address: string;
    created_at: string;
    details: { custom_message: string };
  };
  id: string;
  cursor_at: string;
}

async function benchQueries(pg: Client, svc: RunningRecorder, token: string) {
  const pool = (http = new Pool(svc.url, { connections: 2 }));
  // A 30-day window in the middle of the two years.
  const after = iso(SEED_START + 365 * DAY_MS);
  const before = iso(SEED_START + 395 * DAY_MS);
  const inWindow = Number(
    (
      await pg.query<{ n: string }>(
        `select count(*) as n from audit_events where entity_type = 'Project' and entity_id = $1 and created_at >= $2 and created_at <= $3`,
        [HOT_PROJECT, after, before],
      )
    ).rows[0].n,
  );
  const depth = Math.max(1, Math.min(cfg.depth, Math.floor(inWindow / 100) - 1));
  log(`project ${HOT_PROJECT}: ${inWindow} events in ${after} .. ${before}; deep page = page ${depth + 1}`);
  const firstPath = `/api/v4/projects/${HOT_PROJECT}/audit_events?created_after=${encodeURIComponent(after)}&created_before=${encodeURIComponent(before)}&per_page=100`;
  let deepPath = firstPath;
  for (let i = 0; i < depth; i++) {
    const { link } = await get(pool, deepPath, token);
    if (!link) throw new Error(`no rel="next" after page ${i + 1}`);
    deepPath = link;
  }
  const expectPage = (path: string) => async () => {
    const { count } = await get(pool, path, token);
    if (count !== 100) throw new Error(`expected 100 events, got ${count}`);
  };
  const httpFirst = await timeSequential(expectPage(firstPath), svc.pid);
  const httpDeep = await timeSequential(expectPage(deepPath), svc.pid);

  // Baseline: the same statement through pg, cursor found by walking the same pages with SQL.
  const base = [HOT_PROJECT, after, before, 101];
  let cursor: Row | undefined;
  for (let i = 0; i < depth; i++) {
    const rows = (
      await pg.query<Row>(PAGE_SQL(cursor !== undefined), cursor ? [...base, cursor.cursor_at, cursor.id] : base)
    ).rows;
    cursor = rows[99];
  }
  const deepCursor = cursor as Row;
  const expectRows = (keyset: boolean) => async () => {
    const rows = (await pg.query<Row>(PAGE_SQL(keyset), keyset ? [...base, deepCursor.cursor_at, deepCursor.id] : base))
      .rows;
    if (rows.length < 100) throw new Error(`expected 100 rows, got ${rows.length}`);
  };
  const sqlFirst = await timeSequential(expectRows(false), undefined);
  const sqlDeep = await timeSequential(expectRows(true), undefined);
  return { window: { after, before, events: inWindow, depth }, httpFirst, httpDeep, sqlFirst, sqlDeep };
}

interface ExportFigures {
  rows: number;
  seconds: number;
  rowsPerS: number;
  bytes: number;
  machineBusyPct: number;
  rss: RssSamples;
}

/** Counts CRLF-terminated lines as they arrive; nothing is buffered. */
async function benchExport(svc: RunningRecorder, token: string, after: string, before: string): Promise<ExportFigures> {
  const stopRss = sampleRss(svc.pid);
  const stopCpu = cpuWindow(svc.pid);
  const t0 = performance.now();
  const res = await request(
    `${svc.url}/api/v4/audit_events/export.csv?created_after=${encodeURIComponent(after)}&created_before=${encodeURIComponent(before)}`,
    {
      headers: { authorization: `Bearer ${token}` },
      bodyTimeout: 0,
    },
  );
  if (res.statusCode !== 200)
    throw new Error(`export: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = stopCpu();
  const rows = lines - 1; // the header
  return {
    rows,
    seconds: round(seconds, 2),
    rowsPerS: round(rows / seconds, 0),
    bytes,
    machineBusyPct: round(cpu.machineBusy * 100, 1),
    rss: stopRss(),
  };
}

/** A row as the service's export reads it: the stored text, and the chain fields when the table has them. */
interface ExportRow {
  payload: string;
  id: string;
  cursor_at: string;
  chain_id?: string;
  chain_seq?: string;
  prev_hash?: string;
  hash?: string;
}

/** The service's 12 readable columns, then (with chains) its chain columns and the stored text, as Event JSON. */
const csvish = (r: ExportRow) => {
  const p = JSON.parse(r.payload) as Row['payload'];
  const fields: Array<string | number | null | undefined> = [
    p.id,
    p.author_id,
    p.author_name,
    p.entity_id,
    p.entity_type,
    p.entity_path,
    p.target_id,
    p.target_type,
    p.target_details,
    p.details.custom_message,
    p.ip_address,
    p.created_at,
  ];
  if (r.chain_id !== undefined) fields.push(r.chain_id, r.chain_seq, r.prev_hash, r.hash, r.payload);
  return `${fields.join(',')}\r\n`;
};

/**
 * pg-copy-streams and pg-cursor are not installed: the service's own statement (the stored text and, on a table
 * with chains, the chain fields) in keyset batches of 5000 through plain pg, each payload parsed as the service
 * parses it for CSV, lines built without quoting.
 */
async function baselineExport(pg: Client, after: string, before: string, chained: boolean): Promise<ExportFigures> {
  const stopRss = sampleRss(undefined);
  const stopCpu = cpuWindow(undefined);
  const t0 = performance.now();
  const columns = `a.payload::text as payload, a.id, to_char(a.created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_at${
    chained ? ", a.chain_id, a.chain_seq, encode(a.prev_hash, 'hex') as prev_hash, encode(a.hash, 'hex') as hash" : ''
  }`;
  const sql = (keyset: boolean) => `select ${columns}
    from audit_events a where a.created_at >= $1::timestamptz and a.created_at <= $2::timestamptz
    ${keyset ? 'and (a.created_at, a.id) < ($4::timestamptz, $5::uuid)' : ''} order by a.created_at desc, a.id desc limit $3`;
  let rows = 0;
  let bytes = 0;
  let last: ExportRow | undefined;
  for (;;) {
    const batch = (
      await pg.query<ExportRow>(
        sql(last !== undefined),
        last ? [after, before, 5000, last.cursor_at, last.id] : [after, before, 5000],
      )
    ).rows;
    for (const r of batch) bytes += csvish(r).length;
    rows += batch.length;
    if (batch.length < 5000) break;
    last = batch[batch.length - 1];
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = stopCpu();
  return {
    rows,
    seconds: round(seconds, 2),
    rowsPerS: round(rows / seconds, 0),
    bytes,
    machineBusyPct: round(cpu.machineBusy * 100, 1),
    rss: stopRss(),
  };
}

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.rows} rows, ${cfg.projects} projects in ${cfg.groups} groups, ${cfg.requests} requests per shape, database ${names.db}`,
  );
  await createTopic();
  let seedS: number | undefined;
  if (!cfg.reuseDb) {
    service = await launch();
    log(`audit-recorder ran its migrations on ${names.db}; stopping it to seed`);
    await service.stop();
    service = undefined;
  }
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, names.db) });
  await pg.connect();
  try {
    if (!cfg.reuseDb) seedS = await seed(pg);
    const total = Number((await pg.query<{ n: string }>('select count(*) as n from audit_events')).rows[0].n);
    const hot = Number(
      (
        await pg.query<{ n: string }>(
          `select count(*) as n from audit_events where entity_type = 'Project' and entity_id = $1`,
          [HOT_PROJECT],
        )
      ).rows[0].n,
    );
    log(
      `${total} audit events (hot project ${HOT_PROJECT}: ${hot})${seedS !== undefined ? `, seeded in ${seedS} s` : ''}`,
    );
    service = await launch();
    const svc = service;
    log(`audit-recorder ready at ${svc.url} (pid ${svc.pid})`);
    const token = jwt.sign({ sub: '1', name: 'bench', admin: true }, SECRET, { algorithm: 'HS256', expiresIn: '1h' });

    const q = await benchQueries(pg, svc, token);
    log(`queries done; export window`);
    // A window holding ~exportRows rows (rows are spread evenly over the two years).
    const spanMs = Math.min(SEED_SPAN_MS, (SEED_SPAN_MS * cfg.exportRows) / total);
    const startMs = Math.min(SEED_START + 100 * DAY_MS, SEED_START + SEED_SPAN_MS - spanMs);
    const exportAfter = iso(startMs);
    const exportBefore = iso(startMs + spanMs);
    const exportCount = Number(
      (
        await pg.query<{ n: string }>(
          'select count(*) as n from audit_events where created_at >= $1 and created_at <= $2',
          [exportAfter, exportBefore],
        )
      ).rows[0].n,
    );
    log(`export of ${exportCount} rows (${exportAfter} .. ${exportBefore})`);
    const svcExport = await benchExport(svc, token, exportAfter, exportBefore);
    log(`service export: ${svcExport.rows} rows in ${svcExport.seconds} s`);
    const baseExport = await baselineExport(pg, exportAfter, exportBefore, await hasChainColumns(pg));
    log(`baseline export: ${baseExport.rows} rows in ${baseExport.seconds} s`);
    const exitCode = await svc.stop();

    const pct = (label: string, s: Summary, b: Summary) =>
      (['p50', 'p95', 'p99'] as const).map((p) => ({ metric: `${label} ${p} (ms)`, recorder: s[p], baseline: b[p] }));
    const table = recorderTable(
      [
        ...pct('first page', q.httpFirst.latencyMs, q.sqlFirst.latencyMs),
        ...pct(`deep page (page ${q.window.depth + 1})`, q.httpDeep.latencyMs, q.sqlDeep.latencyMs),
        {
          metric: 'machine CPU busy during pages (%)',
          recorder: q.httpDeep.machineBusyPct,
          baseline: q.sqlDeep.machineBusyPct,
          digits: 1,
        },
        { metric: 'CSV export rows/s', recorder: svcExport.rowsPerS, baseline: baseExport.rowsPerS, digits: 0 },
        { metric: 'CSV export rows', recorder: svcExport.rows, baseline: baseExport.rows, digits: 0 },
        { metric: 'CSV export seconds', recorder: svcExport.seconds, baseline: baseExport.seconds },
        {
          metric: 'RSS during export: start (MB)',
          recorder: svcExport.rss.startMb,
          baseline: baseExport.rss.startMb,
          digits: 1,
        },
        {
          metric: 'RSS during export: peak (MB)',
          recorder: svcExport.rss.peakMb,
          baseline: baseExport.rss.peakMb,
          digits: 1,
        },
        {
          metric: 'RSS during export: end (MB)',
          recorder: svcExport.rss.endMb,
          baseline: baseExport.rss.endMb,
          digits: 1,
        },
        {
          metric: 'machine CPU busy during export (%)',
          recorder: svcExport.machineBusyPct,
          baseline: baseExport.machineBusyPct,
          digits: 1,
        },
      ],
      'direct pg baseline',
    );
    const rssGrowth = svcExport.rss.peakMb - svcExport.rss.startMb;
    const targets: Target[] = [
      {
        name: 'project/window first page p95 (ms)',
        goal: '< 20',
        value: q.httpFirst.latencyMs.p95,
        pass: q.httpFirst.latencyMs.p95 < 20,
      },
      {
        name: `project/window deep page p95 (ms)`,
        goal: '< 20',
        value: q.httpDeep.latencyMs.p95,
        pass: q.httpDeep.latencyMs.p95 < 20,
      },
      { name: 'CSV export rows/s', goal: '>= 50000', value: svcExport.rowsPerS, pass: svcExport.rowsPerS >= 50_000 },
      {
        name: 'CSV export RSS growth, peak − start (MB)',
        goal: '< 100 (flat)',
        value: round(rssGrowth, 1),
        pass: rssGrowth < 100,
      },
      {
        name: 'CSV export complete (rows = SQL count)',
        goal: `= ${exportCount}`,
        value: svcExport.rows,
        pass: svcExport.rows === exportCount,
      },
    ];
    process.stdout.write(
      `\n${table}\n\n(baseline RSS is the bench process; page latencies are sequential requests, ${cfg.requests} each after ${cfg.warmup} warm-up)\n\nTargets:\n${targetLines(targets)}\n`,
    );
    const results = {
      at: new Date().toISOString(),
      git: gitInfo(),
      node: process.version,
      cpus: cpus().length,
      busyBeforePct,
      config: { ...cfg, database: names.db },
      data: { rows: total, hotProjectRows: hot, seedS },
      queries: q,
      export: {
        window: { after: exportAfter, before: exportBefore, rows: exportCount },
        recorder: svcExport,
        baseline: baseExport,
      },
      exitCode,
      targets,
    };
    const pages = (label: string, s: Summary, b: Summary) =>
      (['p50', 'p95', 'p99'] as const).map((p) => ({
        name: `${label} ${p} (ms)`,
        value: s[p],
        baseline: b[p],
        goals: p === 'p95' ? [{ goal: '< 20' }] : undefined,
      }));
    writeResults('recorder-query', results, [
      ...pages('project/window first page', q.httpFirst.latencyMs, q.sqlFirst.latencyMs),
      ...pages(`project/window deep page (page ${q.window.depth + 1})`, q.httpDeep.latencyMs, q.sqlDeep.latencyMs),
      {
        name: 'CSV export rows/s',
        value: svcExport.rowsPerS,
        baseline: baseExport.rowsPerS,
        goals: [{ goal: '>= 50000' }],
      },
      {
        name: 'CSV export RSS growth, peak − start (MB)',
        value: rssGrowth,
        baseline: baseExport.rss.peakMb - baseExport.rss.startMb,
        goals: [{ goal: '< 100' }],
      },
      {
        name: 'CSV export rows (= SQL count)',
        value: svcExport.rows,
        baseline: baseExport.rows,
        goals: [{ goal: `= ${exportCount}` }],
      },
    ]);
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
