/**
 * Verification benchmark (issue 16: verification >= 200,000 events/s): the built audit-recorder's online
 * verification (GET /api/v4/audit_events/verify) and the offline verifier (`npm run audit:verify`, the core of
 * tools/audit-verify.ts) on a JSONL export of the same log, beside bare baselines in the same run.
 *   npm run bench:verify
 * Knobs (env): BENCH_VERIFY_EVENTS (1000000), BENCH_VERIFY_CHAINS (3), BENCH_VERIFY_MONTHS (12),
 * BENCH_VERIFY_RUNS (3, of each measurement; figures are the medians), BENCH_LOG_LEVEL (warn),
 * BENCH_SERVICE_NODE_ARGS (extra node flags for the service), DATABASE_URL, KAFKA_BROKERS.
 * Figures go to stdout and bench/results/verify.json. Targets print PASS/FAIL; a miss never fails the run.
 *
 * The log: BENCH_VERIFY_EVENTS audit events seeded by SQL into the recorder's own database (migrated by the
 * recorder, as recorder-query does), created_at spread evenly over the BENCH_VERIFY_MONTHS months before
 * yesterday (one partition each), dealt in turn to BENCH_VERIFY_CHAINS chains named as the recorder names
 * them (`<topic>/<partition>`), every row a valid link (hashes computed by PostgreSQL while seeding,
 * support/audit-chain.ts), payloads compact JSON in the mapping's key order as the recorder stores them.
 * Then, as the recorder would leave it: the heads in audit_chain_heads, checkpoint 1 signing them (with a
 * key made for the run, which the recorder is started with), and that checkpoint's own audit event appended
 * to chain 0 (linked, not yet signed: unsigned_events 1), so that the export carries the checkpoint.
 *
 * Measured, each BENCH_VERIFY_RUNS times, in this order (the table read once first, untimed, so that no
 * figure pays for a cold cache):
 *  - online: GET /api/v4/audit_events/verify as an auditor; events/s = events_checked / wall time of the
 *    request. The recorder's CPU and PostgreSQL's (every `postgres` process) are given per 1000 events;
 *  - baseline of online: what reading the same rows costs, `select count(*), sum(length(payload::text))`
 *    over the table, with parallel workers off (one backend, as the verification's queries run); and, as a
 *    further row, the same scan computing every row's hash check in SQL (the design's per-row check);
 *  - offline: the table exported once through the recorder (GET /api/v4/audit_events/export?format=jsonl,
 *    its rate given apart), the public key fetched from the recorder (public_key.pem), then verifyExport in a
 *    child process (support/verify-offline.ts); events/s = events_checked / its wall time;
 *  - baseline of offline: a Node loop of SHA-256 over the same texts (hash = SHA-256(prev_hash || seq ||
 *    text), what any verifier must compute at least), the rows read from PostgreSQL beforehand, batch by
 *    batch, outside the timing.
 * Every verification must say valid and have checked every event (the stored rows, or the exported lines).
 */
import { randomBytes, randomUUID, createHash } from 'node:crypto';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createWriteStream, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { Client } from 'pg';
import { Pool } from 'undici';
import {
  CheckpointBody,
  chainName,
  linkEvents,
  signCheckpoint,
  SigningKey,
  VerificationResult,
} from '../libs/audit/chain/src';
import { toAuditEvents } from '../libs/audit/mapping/src';
import { envelope } from '../libs/contracts/src';
import { bearer } from '../libs/platform/testing/src/lib/tokens';
import { ChainSeeder, dropAuditEventIndexes, ensureMonths, SEED_COLUMNS, signingKeyFile } from './support/audit-chain';
import { databaseUrl, dropDatabase } from './support/baseline';
import { cpuWindow } from './support/cpu';
import { deleteTopics } from './support/kafka';
import { RunningRecorder, startRecorder } from './support/recorder-service';
import { figuresTable, writeResults } from './support/results';
import { backgroundBusyPct, gitInfo, log, num } from './support/run';
import { DatabaseEnv, serviceDatabase, UNREACHABLE_RATE_LIMIT } from './support/service';
import { round, summarize } from './support/stats';
import { commandCpuS } from './support/streamer-service';

const cfg = {
  events: num('BENCH_VERIFY_EVENTS', 1_000_000, 1000),
  chains: num('BENCH_VERIFY_CHAINS', 3),
  months: num('BENCH_VERIFY_MONTHS', 12),
  runs: num('BENCH_VERIFY_RUNS', 3),
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  serviceNodeArgs: (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
};
const TARGET_EVENTS_PER_S = 200_000;
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const names = {
  db: `bench_verify_${suffix}`,
  topic: `bench-verify-${suffix}`,
  auditLog: join(tmpdir(), `bench-verify-${suffix}.log`),
  signingKey: join(tmpdir(), `bench-verify-${suffix}.pem`),
  publicKey: join(tmpdir(), `bench-verify-${suffix}.pub.pem`),
  exportFile: join(tmpdir(), `bench-verify-${suffix}.jsonl`),
};
const DAY_MS = 86_400_000;
/** Seeded events end a day before the run; the checkpoint's own event is created now, after all of them. */
const SEED_END = Date.now() - DAY_MS;
const SEED_SPAN_MS = Math.round(cfg.months * 30.44 * DAY_MS);
const CHAINS = Array.from({ length: cfg.chains }, (_, p) => chainName(names.topic, p));
// As the recorder signs and records its checkpoints (apps/audit-recorder/src/integrity/checkpointer.ts).
const RECORDER_ACTOR = { id: 0, name: 'audit-recorder', ip_address: null };
const INSTANCE_SCOPE = { entity_type: 'Instance' as const, entity_id: 1, entity_path: 'instance' };

const kafka = new Kafka({ brokers: BROKERS, clientId: 'verify-bench', logLevel: logLevel.NOTHING });
let service: RunningRecorder | undefined;
let http: Pool | undefined;
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['close HTTP pool', async () => http?.close()],
      ['stop service', async () => service?.stop()],
      ['drop database', () => dropDatabase(SERVER_URL, names.db)],
      ['delete topics', () => deleteTopics(kafka, [names.topic, `${names.topic}.dlq`])],
      [
        'remove files',
        async () =>
          [names.auditLog, names.signingKey, names.publicKey, names.exportFile].forEach((f) =>
            rmSync(f, { force: true }),
          ),
      ],
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
      topics: [{ topic: names.topic, numPartitions: cfg.chains, replicationFactor: -1 }],
    });
  } finally {
    await admin.disconnect();
  }
}

let database: DatabaseEnv | undefined;

/** The recorder with the run's signing key; no interval checkpoint during the run (one an hour). */
const launch = async () =>
  startRecorder(
    {
      ...(database ??= await serviceDatabase('audit-recorder', SERVER_URL, names.db)),
      KAFKA_BROKERS: BROKERS.join(','),
      KAFKA_TOPIC: names.topic,
      KAFKA_GROUP_ID: `bench-verify-${suffix}`,
      AUDIT_LOG_FILE: names.auditLog,
      AUDIT_SIGNING_KEY_FILE: names.signingKey,
      AUDIT_CHECKPOINT_INTERVAL_MS: '3600000',
      AUTH_JWT_SECRET: SECRET,
      LOG_LEVEL: cfg.logLevel,
      RATE_LIMIT_PER_MINUTE: UNREACHABLE_RATE_LIMIT,
    },
    cfg.serviceNodeArgs,
  );

/**
 * The events by generate_series in slices (indexes dropped and rebuilt, as recorder-query seeds), each row's
 * payload compact JSON (to_json of a row: JSON.stringify's text) in the mapping's key order.
 */
const ROWS_SQL = `select ${SEED_COLUMNS} from (
  select i, id, event_type, author_id, author_name, 'Project'::text as entity_type, project::bigint as entity_id, path as entity_path,
    'Release'::text as target_type, i as target_id, created_at, (i % $6::int)::int as chain,
    (select to_json(p) from (select id, author_id, project as entity_id, 'Project'::text as entity_type,
        (select to_json(d) from (select author_name, i as target_id, 'Release'::text as target_type, 'Release ' || i as target_details,
            message as custom_message, '203.0.113.7'::text as ip_address, path as entity_path, 'corr-' || i as correlation_id) d) as details,
        '203.0.113.7'::text as ip_address, author_name, path as entity_path, 'Release ' || i as target_details,
        to_char(created_at at time zone 'utc', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"') as created_at, 'Release'::text as target_type,
        i as target_id, event_type) p) as payload
  from (
    select i, gen_random_uuid() as id, project, 'bench-verify/p' || project as path, 1 + i % 200 as author_id,
      'user' || (1 + i % 200) as author_name,
      case when i % 10 < 7 then 'release_created' when i % 10 < 9 then 'release_updated' else 'release_deleted' end as event_type,
      case when i % 10 < 7 then 'Created Release v' || i when i % 10 < 9 then 'Updated Release v' || i else 'Deleted Release v' || i end as message,
      date_trunc('milliseconds', to_timestamp($4::float8 / 1000) + (i::float8 / $3::float8) * ($5::float8 / 1000) * interval '1 second') as created_at
    from (select i, 1 + i % 100 as project from generate_series($1::bigint, $2::bigint) i) s
  ) r
) seeded`;

interface Seeded {
  seconds: number;
  partitions: number;
  checkpoint: { sequence: number; chains: number; signedEvents: number };
}

async function seed(pg: Client, key: SigningKey): Promise<Seeded> {
  const t0 = performance.now();
  await pg.query(`set synchronous_commit = off; set maintenance_work_mem = '512MB'; set work_mem = '256MB'`);
  const partitions = await ensureMonths(pg, SEED_END - SEED_SPAN_MS, Date.now() + DAY_MS);
  const restoreIndexes = await dropAuditEventIndexes(pg);
  const seeder = new ChainSeeder(pg, CHAINS);
  const slice = 250_000;
  for (let lo = 1; lo <= cfg.events; lo += slice) {
    const hi = Math.min(lo + slice - 1, cfg.events);
    await seeder.insert(ROWS_SQL, [lo, hi, cfg.events, SEED_END - SEED_SPAN_MS, SEED_SPAN_MS, cfg.chains]);
    log(`seeded ${hi} / ${cfg.events} events (${round((performance.now() - t0) / 1000, 1)} s)`);
  }
  const heads = (await seeder.finish()).sort((a, b) => (a.chain < b.chain ? -1 : a.chain > b.chain ? 1 : 0));
  await restoreIndexes();
  log(`indexes rebuilt (${round((performance.now() - t0) / 1000, 1)} s); signing checkpoint 1`);

  // Checkpoint 1 over the heads, stored as the recorder stores it.
  const body: CheckpointBody = {
    version: 1,
    id: randomUUID(),
    sequence: 1,
    created_at: new Date().toISOString(),
    reason: 'interval',
    key_id: key.keyId,
    previous: null,
    chains: heads,
    purged: [],
    log_files: [],
  };
  const signed = signCheckpoint(body, key);
  await pg.query(
    `insert into audit_checkpoints (sequence, id, created_at, reason, key_id, body, signature) values ($1, $2, $3, $4, $5, $6, $7)`,
    [body.sequence, body.id, body.created_at, body.reason, body.key_id, signed.body, signed.signature],
  );
  // Its audit event, as the recorder stores it when it consumes its own checkpoint's event: next on chain 0.
  const [event] = toAuditEvents(
    envelope(
      'AuditLogCheckpointCreated',
      {
        checkpoint_id: body.id,
        sequence: body.sequence,
        reason: body.reason,
        key_id: body.key_id,
        chains: heads.length,
        events: heads.reduce((n, h) => n + h.seq, 0),
        body: signed.body,
        signature: signed.signature,
      },
      { type: 'AuditLogCheckpoint', id: body.id, version: 1 },
      INSTANCE_SCOPE,
      { actor: RECORDER_ACTOR, correlationId: `checkpoint-${body.sequence}`, now: new Date(body.created_at) },
    ),
  );
  const text = JSON.stringify(event);
  const head = heads.find((h) => h.chain === CHAINS[0]) ?? heads[0];
  const {
    links: [link],
    head: next,
  } = linkEvents(head, [text]);
  await pg.query(
    `insert into audit_events (id, event_type, author_id, author_name, entity_type, entity_id, entity_path, target_type, target_id,
                               created_at, payload, chain_id, chain_seq, prev_hash, hash)
     values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
    [
      event.id,
      event.event_type,
      event.author_id,
      event.author_name,
      event.entity_type,
      event.entity_id,
      event.entity_path,
      event.target_type,
      event.target_id,
      event.created_at,
      text,
      next.chain,
      link.seq,
      link.prevHash,
      link.hash,
    ],
  );
  await pg.query(
    `update audit_chain_heads set seq = $2, hash = decode($3, 'hex'), updated_at = now() where chain = $1`,
    [next.chain, next.seq, next.hash],
  );
  await pg.query('vacuum (analyze) audit_events');
  return {
    seconds: round((performance.now() - t0) / 1000, 1),
    partitions,
    checkpoint: { sequence: body.sequence, chains: heads.length, signedEvents: heads.reduce((n, h) => n + h.seq, 0) },
  };
}

interface OnlineRun {
  seconds: number;
  eventsPerS: number;
  result: VerificationResult;
  recorderCpuMsPer1000: number;
  postgresCpuMsPer1000: number;
  machineBusyPct: number;
}

async function online(pool: Pool, svc: RunningRecorder, auth: string): Promise<OnlineRun> {
  const stopCpu = cpuWindow(svc.pid);
  const postgres0 = commandCpuS(['postgres']);
  const t0 = performance.now();
  const res = await pool.request({
    method: 'GET',
    path: '/api/v4/audit_events/verify',
    headers: { authorization: auth },
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  const text = await res.body.text();
  const seconds = (performance.now() - t0) / 1000;
  const cpu = stopCpu();
  const postgresS = commandCpuS(['postgres']) - postgres0;
  if (res.statusCode !== 200) throw new Error(`GET /verify: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  const result = JSON.parse(text) as VerificationResult;
  const n = result.events_checked;
  return {
    seconds: round(seconds, 3),
    eventsPerS: round(n / seconds, 0),
    result,
    recorderCpuMsPer1000: round((cpu.processS * 1e6) / n, 2),
    postgresCpuMsPer1000: round((postgresS * 1e6) / n, 2),
    machineBusyPct: round(cpu.machineBusy * 100, 1),
  };
}

interface SqlRun {
  seconds: number;
  events: number;
  eventsPerS: number;
  /** Rows whose hash check holds (the hash scan only). */
  ok?: number;
}

/** One backend, as the verification's queries run: no parallel workers. */
async function sqlScan(pg: Client, withHash: boolean): Promise<SqlRun> {
  const t0 = performance.now();
  const { rows } = await pg.query<{ n: string; x: string }>(
    withHash
      ? `select count(*) as n, count(*) filter (where sha256(prev_hash || int8send(chain_seq) || convert_to(payload::text, 'UTF8')) = hash) as x
           from audit_events`
      : 'select count(*) as n, sum(length(payload::text)) as x from audit_events',
  );
  const seconds = (performance.now() - t0) / 1000;
  const events = Number(rows[0].n);
  return {
    seconds: round(seconds, 3),
    events,
    eventsPerS: round(events / seconds, 0),
    ...(withHash && { ok: Number(rows[0].x) }),
  };
}

interface HashRun extends SqlRun {
  ok: number;
}

/**
 * SHA-256(prev_hash || seq || text) of every stored event in a plain loop: the texts read in keyset batches
 * (chain order), only the loop timed. `ok`: hashes equal to the stored ones (every one, on a valid log).
 */
async function nodeHashes(pg: Client): Promise<HashRun> {
  let elapsed = 0n;
  let events = 0;
  let ok = 0;
  const seq = Buffer.alloc(8);
  let after: { chain: string; seq: string; id: string } | undefined;
  for (;;) {
    const { rows } = await pg.query<{
      chain_id: string;
      chain_seq: string;
      id: string;
      prev_hash: Buffer;
      hash: Buffer;
      payload: string;
    }>(
      `select chain_id, chain_seq, id, prev_hash, hash, payload::text as payload from audit_events
        ${after ? 'where (chain_id, chain_seq, id) > ($2, $3::bigint, $4::uuid)' : ''} order by chain_id, chain_seq, id limit $1`,
      after ? [20_000, after.chain, after.seq, after.id] : [20_000],
    );
    const t0 = process.hrtime.bigint();
    for (const r of rows) {
      seq.writeBigUInt64BE(BigInt(r.chain_seq));
      if (createHash('sha256').update(r.prev_hash).update(seq).update(r.payload).digest().equals(r.hash)) ok++;
    }
    elapsed += process.hrtime.bigint() - t0;
    events += rows.length;
    if (rows.length < 20_000) break;
    const last = rows[rows.length - 1];
    after = { chain: last.chain_id, seq: last.chain_seq, id: last.id };
  }
  const seconds = Number(elapsed) / 1e9;
  return { seconds: round(seconds, 3), events, eventsPerS: round(events / seconds, 0), ok };
}

interface ExportFigures {
  seconds: number;
  lines: number;
  bytes: number;
  rowsPerS: number;
}

/** The whole log as JSONL through the recorder, to a file; every line counted. */
async function exportJsonl(pool: Pool, auth: string): Promise<ExportFigures> {
  const t0 = performance.now();
  const res = await pool.request({
    method: 'GET',
    path: '/api/v4/audit_events/export?format=jsonl',
    headers: { authorization: auth },
    headersTimeout: 0,
    bodyTimeout: 0,
  });
  if (res.statusCode !== 200)
    throw new Error(`export: HTTP ${res.statusCode} ${(await res.body.text()).slice(0, 300)}`);
  const out = createWriteStream(names.exportFile);
  let lines = 0;
  let bytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    bytes += chunk.length;
    for (let at = chunk.indexOf(10); at !== -1; at = chunk.indexOf(10, at + 1)) lines += 1;
    if (!out.write(chunk)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
  const seconds = (performance.now() - t0) / 1000;
  return { seconds: round(seconds, 2), lines, bytes, rowsPerS: round(lines / seconds, 0) };
}

interface OfflineRun {
  seconds: number;
  eventsPerS: number;
  result: VerificationResult;
  cpuS: number;
  maxRssMb: number;
}

/** verifyExport in a child process (support/verify-offline.ts). */
async function offline(): Promise<OfflineRun> {
  const child = spawn(process.execPath, ['-r', '@swc-node/register', join(__dirname, 'support', 'verify-offline.ts')], {
    cwd: join(__dirname, '..'),
    env: {
      ...process.env,
      BENCH_VERIFY_OFFLINE: JSON.stringify({ exportFile: names.exportFile, publicKeyFile: names.publicKey }),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const [code] = (await once(child, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`offline verifier exited with ${code}: ${err}`);
  const run = JSON.parse(out.trim().split('\n').pop() ?? '') as Omit<OfflineRun, 'eventsPerS'>;
  return {
    seconds: round(run.seconds, 3),
    eventsPerS: round(run.result.events_checked / run.seconds, 0),
    result: run.result,
    cpuS: round(run.cpuS, 2),
    maxRssMb: round(run.maxRssMb, 1),
  };
}

const median = (values: number[]) => summarize(values).p50;
const verdict = (r: VerificationResult, expected: number) => r.valid && r.events_checked === expected;

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.events} events in ${cfg.chains} chains over ${cfg.months} months, ${cfg.runs} runs of each measurement`,
  );
  await createTopic();
  const key = signingKeyFile(names.signingKey);
  service = await launch();
  log(`audit-recorder ran its migrations on ${names.db}; stopping it to seed`);
  await service.stop();
  service = undefined;
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, names.db) });
  await pg.connect();
  try {
    const seeded = await seed(pg, key);
    const stored = Number((await pg.query<{ n: string }>('select count(*) as n from audit_events')).rows[0].n);
    log(`${stored} audit events stored in ${seeded.partitions} new partitions, seeded in ${seeded.seconds} s`);
    await pg.query('set max_parallel_workers_per_gather = 0');
    await sqlScan(pg, false); // the cache warm for everyone

    service = await launch();
    const svc = service;
    log(`audit-recorder ready at ${svc.url} (pid ${svc.pid})`);
    const pool = (http = new Pool(svc.url, { connections: 1 }));
    const auth = bearer({ sub: '7', name: 'bench-auditor', auditor: true }, SECRET);

    const onlineRuns: OnlineRun[] = [];
    const readRuns: SqlRun[] = [];
    const hashScanRuns: SqlRun[] = [];
    for (let i = 0; i < cfg.runs; i++) {
      readRuns.push(await sqlScan(pg, false));
      hashScanRuns.push(await sqlScan(pg, true));
      const run = await online(pool, svc, auth);
      onlineRuns.push(run);
      log(
        `run ${i + 1}: online ${run.result.events_checked} events in ${run.seconds} s (${run.eventsPerS}/s, valid ${run.result.valid}); SQL read ${readRuns[i].eventsPerS}/s, SQL read + hash ${hashScanRuns[i].eventsPerS}/s`,
      );
    }
    const hashRuns: HashRun[] = [];
    for (let i = 0; i < cfg.runs; i++) hashRuns.push(await nodeHashes(pg));
    log(`Node SHA-256 loop: ${hashRuns.map((r) => `${r.eventsPerS}/s`).join(', ')}`);

    const pem = await pool.request({
      method: 'GET',
      path: '/api/v4/audit_events/public_key.pem',
      headers: { authorization: auth },
    });
    const publicKeyPem = await pem.body.text();
    if (pem.statusCode !== 200) throw new Error(`public_key.pem: HTTP ${pem.statusCode} ${publicKeyPem.slice(0, 300)}`);
    writeFileSync(names.publicKey, publicKeyPem);
    const exported = await exportJsonl(pool, auth);
    log(
      `exported ${exported.lines} events as JSONL (${round(exported.bytes / 2 ** 20, 1)} MB) in ${exported.seconds} s`,
    );
    const offlineRuns: OfflineRun[] = [];
    for (let i = 0; i < cfg.runs; i++) {
      const run = await offline();
      offlineRuns.push(run);
      log(
        `offline run ${i + 1}: ${run.result.events_checked} events in ${run.seconds} s (${run.eventsPerS}/s, valid ${run.result.valid}), RSS high-water ${run.maxRssMb} MB`,
      );
    }
    const exitCode = await svc.stop();
    service = undefined;

    const onlineValid = onlineRuns.every((r) => verdict(r.result, stored));
    const offlineValid = offlineRuns.every((r) => verdict(r.result, exported.lines));
    const hashesOk = hashRuns.every((r) => r.ok === stored) && hashScanRuns.every((r) => r.ok === stored);
    const onlinePerS = median(onlineRuns.map((r) => r.eventsPerS));
    const offlinePerS = median(offlineRuns.map((r) => r.eventsPerS));
    const readPerS = median(readRuns.map((r) => r.eventsPerS));
    const hashScanPerS = median(hashScanRuns.map((r) => r.eventsPerS));
    const nodeHashPerS = median(hashRuns.map((r) => r.eventsPerS));
    const target = `>= ${TARGET_EVENTS_PER_S}`;
    const figures = writeResults(
      'verify',
      {
        at: new Date().toISOString(),
        git: gitInfo(),
        node: process.version,
        cpus: cpus().length,
        busyBeforePct,
        config: { ...cfg, database: names.db },
        data: { stored, ...seeded },
        online: onlineRuns,
        sqlRead: readRuns,
        sqlReadWithHash: hashScanRuns,
        nodeHash: hashRuns,
        export: exported,
        offline: offlineRuns,
        hashesOk,
        exitCode,
      },
      [
        {
          name: 'online verification events/s (GET /verify; baseline: SQL count + sum(length(payload)))',
          value: onlinePerS,
          baseline: readPerS,
          goals: [{ goal: target }],
        },
        {
          name: 'offline verification events/s (audit:verify on JSONL; baseline: Node SHA-256 loop)',
          value: offlinePerS,
          baseline: nodeHashPerS,
          goals: [{ goal: target }],
        },
        {
          name: 'online verification: valid, every stored event checked',
          value: Math.min(...onlineRuns.map((r) => r.result.events_checked)),
          goals: [{ goal: `= ${stored}` }],
          pass: onlineValid,
        },
        {
          name: 'offline verification: valid, every exported event checked',
          value: Math.min(...offlineRuns.map((r) => r.result.events_checked)),
          goals: [{ goal: `= ${exported.lines}` }],
          pass: offlineValid,
        },
        {
          name: 'SQL scan with the per-row hash check, events/s (baseline: SQL read)',
          value: hashScanPerS,
          baseline: readPerS,
        },
        {
          name: 'recorder CPU per 1000 events verified (ms)',
          value: median(onlineRuns.map((r) => r.recorderCpuMsPer1000)),
        },
        {
          name: 'PostgreSQL CPU per 1000 events verified online (ms)',
          value: median(onlineRuns.map((r) => r.postgresCpuMsPer1000)),
        },
        { name: 'offline verifier RSS high-water (MB)', value: Math.max(...offlineRuns.map((r) => r.maxRssMb)) },
        { name: 'JSONL export rows/s (recorder, once)', value: exported.rowsPerS },
      ],
    );
    const runRows = [
      '| run | online s | online events/s | SQL read events/s | SQL read + hash events/s | Node SHA-256 events/s | offline s | offline events/s | offline RSS MB |',
      '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
      ...onlineRuns.map(
        (r, i) =>
          `| ${i + 1} | ${r.seconds} | ${r.eventsPerS} | ${readRuns[i].eventsPerS} | ${hashScanRuns[i].eventsPerS} | ${hashRuns[i].eventsPerS} | ${offlineRuns[i].seconds} | ${offlineRuns[i].eventsPerS} | ${offlineRuns[i].maxRssMb} |`,
      ),
    ];
    const last = onlineRuns[onlineRuns.length - 1].result;
    process.stdout.write(
      `\n${runRows.join('\n')}\n\n${figuresTable(figures)}\n\n` +
        `(online result of the last run: ${JSON.stringify(last)}; every stored hash recomputed equal in SQL and in Node: ${hashesOk})\n`,
    );
    if (!onlineValid || !offlineValid || !hashesOk)
      log('WARNING: a verification did not find the seeded log intact: the figures are of a broken run');
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
