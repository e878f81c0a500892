/**
 * Observability overhead benchmark: what Prometheus metrics and OpenTelemetry tracing cost the consumers'
 * throughput. The built audit-recorder and audit-streamer each run several times in one run, alternately
 * with both off and with both on, on the same messages:
 *   npm run bench:observability
 *
 * - off: METRICS_ENABLED=false and no OTEL_EXPORTER_OTLP_ENDPOINT (tracing entirely off);
 * - on: METRICS_ENABLED=true, with this process scraping GET /metrics every BENCH_SCRAPE_MS (1000) as Prometheus
 *   would, so the scrape-time reads are in the figure (the consumer lag read from the brokers, the outbox and
 *   delivery backlogs counted in PostgreSQL); and OTEL_EXPORTER_OTLP_ENDPOINT pointing to a collector in this
 *   process: a real HTTP server that takes POST /v1/traces, answers 200 at once and counts the spans (it keeps
 *   no body). The consumers follow each message's `traceparent` flags (parent-based sampling), so which traces
 *   are recorded is set by BENCH_TRACE_SAMPLED below, not by the consumers' own OTEL_TRACES_SAMPLER_ARG.
 *
 * Every message carries a `traceparent` header as release-service's relay writes it: the trace of the HTTP
 * write that appended the outbox rows, sampled (flags 01), one new random trace every BENCH_TRACE_EVENTS (2)
 * consecutive messages of the same key (one release create per request, a few events per trace). The
 * consumers then start one span per distinct trace in a chunk, and the streamer one CLIENT span per delivery.
 *
 * Recorder: BENCH_EVENTS (100000) ReleaseCreated events preloaded once into one topic; each run drains it on a
 * fresh database and consumer group; steady rate = first stored row → last (as bench/recorder.bench.ts).
 * Streamer: each run on a fresh topic, database and group: the streamer starts, learns the group from its
 * GroupCreated/ProjectCreated events, gets one destination per receiver (BENCH_RECEIVERS, 3: local keep-alive
 * HTTP servers answering 200 at once) and stops; then BENCH_STREAM_EVENTS (20000) ReleaseCreated events are
 * produced and a fresh streamer process drains them (a catch-up, no producer competing for the cores);
 * deliveries/s = first arrival → last at the receivers. The receivers count the deliveries that carry a
 * `traceparent` of the event's own trace (the trace id of the Kafka header): all of them when on, none when off.
 *
 * Order: BENCH_ROUNDS (3) rounds of off then on per service, each run a fresh process (the alternation spreads
 * the machine's drift over both modes); figures: each mode's median, and on / off, target >= 0.95
 * (the issue: "the overhead is at most 5 % of throughput").
 * Diagnostics: BENCH_SPLIT=1 adds a metrics-only and a tracing-only run to each round (which half costs what);
 * BENCH_TRACE_SAMPLED is the share of traces whose headers say "sampled" (flags 01): 0.1 by default, as
 * release-service writes them at its default OTEL_TRACES_SAMPLER_ARG (0.1); 1 for every trace recorded, 0 for
 * none (propagated, nothing recorded); BENCH_TRACE_EVENTS=0 sends no header at all.
 * Knobs (env): BENCH_EVENTS, BENCH_STREAM_EVENTS, BENCH_ROUNDS, BENCH_RECEIVERS, BENCH_TRACE_EVENTS,
 * BENCH_TRACE_SAMPLED (0.1), BENCH_SPLIT (0), BENCH_SCRAPE_MS, BENCH_PARTITIONS (3), BENCH_PROJECTS (30),
 * BENCH_PRODUCE_BATCH (1000), BENCH_ONLY_SERVICES (recorder,streamer), BENCH_TIMEOUT_S (300, per run),
 * BENCH_LOG_LEVEL (warn), BENCH_SERVICE_NODE_ARGS (extra node flags for the services, e.g.
 * "--cpu-prof --cpu-prof-dir=/tmp/prof"), DATABASE_URL, KAFKA_BROKERS.
 * Figures go to stdout and bench/results/observability.json.
 */
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import jwt from 'jsonwebtoken';
import { Kafka, logLevel, Message } from 'kafkajs';
import { Client } from 'pg';
import { DomainEvent, envelope } from '../libs/contracts/src';
import { auditEventIdFor } from '../libs/audit/mapping/src';
import { releaseCreatedEvent } from '../libs/platform/testing/src/lib/fixtures';
import { databaseUrl, dropDatabase } from './support/baseline';
import { cpuWindow, CpuWindow } from './support/cpu';
import { createLogAppendTimeTopic, deleteTopics } from './support/kafka';
import { peakRssMb, startRecorder } from './support/recorder-service';
import { writeResults } from './support/results';
import { backgroundBusyPct, gitInfo, log, num, sleep } from './support/run';
import { RunningService, serviceDatabase } from './support/service';
import { round, summarize } from './support/stats';
import { commandCpuS, startStreamer } from './support/streamer-service';

const SERVICES = ['recorder', 'streamer'] as const;
type ServiceKind = (typeof SERVICES)[number];
const only = (process.env['BENCH_ONLY_SERVICES'] ?? SERVICES.join(','))
  .split(',')
  .map((s) => s.trim())
  .filter(Boolean);
for (const s of only)
  if (!SERVICES.includes(s as ServiceKind))
    throw new Error(`BENCH_ONLY_SERVICES: unknown ${s} (known: ${SERVICES.join(', ')})`);
const cfg = {
  events: num('BENCH_EVENTS', 100_000),
  streamEvents: num('BENCH_STREAM_EVENTS', 20_000),
  rounds: num('BENCH_ROUNDS', 3),
  receivers: num('BENCH_RECEIVERS', 3),
  /** 0: no `traceparent` header at all (a diagnostic: every chunk then has one span). */
  eventsPerTrace: num('BENCH_TRACE_EVENTS', 2, 0),
  /**
   * The share of traces whose headers carry the sampled flag (01), as release-service writes them at
   * OTEL_TRACES_SAMPLER_ARG of the same value (its default, 0.1); the others carry 00 (propagated, not recorded).
   */
  traceSampled: Math.min(1, Math.max(0, Number(process.env['BENCH_TRACE_SAMPLED'] ?? '0.1'))),
  scrapeMs: num('BENCH_SCRAPE_MS', 1000),
  partitions: num('BENCH_PARTITIONS', 3),
  projects: num('BENCH_PROJECTS', 30),
  produceBatch: num('BENCH_PRODUCE_BATCH', 1000),
  timeoutMs: num('BENCH_TIMEOUT_S', 300) * 1000,
  logLevel: process.env['BENCH_LOG_LEVEL'] ?? 'warn',
  serviceNodeArgs: (process.env['BENCH_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean),
  services: only as ServiceKind[],
};
/** The issue's bound: metrics and tracing cost at most 5 % of throughput. */
const RATIO_GOAL = 0.95;
const SERVER_URL = process.env['DATABASE_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
const BROKERS = (process.env['KAFKA_BROKERS'] ?? '127.0.0.1:9092').split(',');
const SECRET = `bench-${randomBytes(24).toString('hex')}`;
const suffix = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
const groupPath = `bench-obs-${suffix}`;
const recorderTopic = `bench-obs-rec-${suffix}`;
const meta = {
  actor: { id: 1, name: 'bench', ip_address: '203.0.113.7' },
  correlationId: `bench-${suffix}`,
  now: new Date(),
};

/**
 * off and on are the figures; metrics (metrics on and scraped, tracing off) and tracing (tracing on, metrics
 * off) are diagnostics run after them in each round when BENCH_SPLIT=1, to say which of the two costs what.
 */
type Mode = 'off' | 'on' | 'metrics' | 'tracing';
const MODES: Mode[] = process.env['BENCH_SPLIT'] === '1' ? ['off', 'on', 'metrics', 'tracing'] : ['off', 'on'];
const metricsOn = (mode: Mode) => mode === 'on' || mode === 'metrics';
const tracingOn = (mode: Mode) => mode === 'on' || mode === 'tracing';

const kafka = new Kafka({ brokers: BROKERS, clientId: 'observability-bench', logLevel: logLevel.NOTHING });
const services = new Set<RunningService>();
const databases: string[] = [];
const topics: string[] = [];
const auditLogs: string[] = [];
const servers: Array<{ close: () => Promise<void> }> = [];
let cleaned: Promise<void> | undefined;

/** Idempotent, and each step runs even when an earlier one failed: a run never leaves debris. */
function cleanup(): Promise<void> {
  cleaned ??= (async () => {
    const steps: Array<[string, () => Promise<unknown>]> = [
      ['stop services', () => Promise.all([...services].map((s) => s.stop()))],
      ['close servers', () => Promise.all(servers.map((s) => s.close()))],
      ['drop databases', () => Promise.all(databases.map((db) => dropDatabase(SERVER_URL, db)))],
      [
        'delete topics',
        () =>
          deleteTopics(
            kafka,
            topics.flatMap((t) => [t, `${t}.dlq`]),
          ),
      ],
      ['remove audit logs', async () => auditLogs.forEach((f) => rmSync(f, { force: true }))],
    ];
    for (const [name, step] of steps)
      await step().catch((err: Error) => log(`cleanup: ${name} failed: ${err.message}`));
  })();
  return cleaned;
}

async function listen(server: Server): Promise<string> {
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  servers.push({
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** Occurrences of `needle` in `haystack` (native search: the collector must stay cheap beside the service). */
function occurrences(haystack: Buffer, needle: Buffer): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at !== -1; at = haystack.indexOf(needle, at + needle.length)) n += 1;
  return n;
}

interface SpanCounts {
  /** POST /v1/traces requests answered. */
  requests: number;
  bytes: number;
  spans: number;
  /** kind CONSUMER (the consumers' chunk spans) and CLIENT (the streamer's delivery requests). */
  consumerSpans: number;
  clientSpans: number;
  /** Requests whose body was not OTLP JSON (counted as requests, their spans not counted). */
  notJson: number;
}

const SPAN_ID = Buffer.from('"spanId":');
// OTLP JSON gives the kind as the API's SpanKind + 1: CLIENT 3, CONSUMER 5 (no whitespace in the exporter's JSON).
const KIND_CLIENT = Buffer.from('"kind":3');
const KIND_CONSUMER = Buffer.from('"kind":5');

/**
 * The OTLP/HTTP collector: answers every POST /v1/traces with 200 and an empty ExportTraceServiceResponse as
 * soon as its body is in, counting spans by a scan of the JSON (no parse, nothing kept).
 */
class Collector {
  counts: SpanCounts = Collector.zero();
  url = '';
  private readonly server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));

  private static zero(): SpanCounts {
    return { requests: 0, bytes: 0, spans: 0, consumerSpans: 0, clientSpans: 0, notJson: 0 };
  }

  async start(): Promise<void> {
    this.url = await listen(this.server);
  }

  /** The counts since the last take, and starts again from zero. */
  take(): SpanCounts {
    const counts = this.counts;
    this.counts = Collector.zero();
    return counts;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== 'POST' || req.url !== '/v1/traces') {
      req.resume();
      res.writeHead(404, { 'content-length': '0' }).end();
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (d: Buffer) => chunks.push(d));
    req.once('end', () => {
      const raw = Buffer.concat(chunks);
      const body = req.headers['content-encoding'] === 'gzip' ? gunzipSync(raw) : raw;
      const c = this.counts;
      c.requests += 1;
      c.bytes += raw.length;
      if (!String(req.headers['content-type']).startsWith('application/json')) c.notJson += 1;
      else {
        c.spans += occurrences(body, SPAN_ID);
        c.clientSpans += occurrences(body, KIND_CLIENT);
        c.consumerSpans += occurrences(body, KIND_CONSUMER);
      }
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': '2' }).end('{}');
    });
  }
}

interface ScrapeStats {
  scrapes: number;
  failed: number;
  /** Scrapes whose body had the series read from outside the process at scrape time. */
  withLag: number;
  withBacklog: number;
  durationMs: { p50: number; max: number };
  bytesPerScrape: number;
}

/**
 * GET <service>/metrics every `everyMs` (on a fixed cadence, never two at once, as Prometheus does) until the
 * returned function is called. `backlogSeries`: the gauge the service reads from PostgreSQL at scrape time.
 */
function startScraper(serviceUrl: string, everyMs: number, backlogSeries: string): () => Promise<ScrapeStats> {
  const durations: number[] = [];
  let failed = 0;
  let withLag = 0;
  let withBacklog = 0;
  let bytes = 0;
  let running = true;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> = Promise.resolve();
  const t0 = performance.now();
  let tick = 0;
  const scrape = async () => {
    const started = performance.now();
    try {
      const res = await fetch(`${serviceUrl}/metrics`);
      const text = await res.text();
      durations.push(performance.now() - started);
      bytes += text.length;
      if (res.status !== 200) failed += 1;
      if (text.includes('\nkafka_consumer_lag{')) withLag += 1;
      if (text.includes(`\n${backlogSeries} `)) withBacklog += 1;
    } catch {
      failed += 1;
    }
  };
  const next = () => {
    if (!running) return;
    current = scrape().then(() => {
      tick += 1;
      if (running) timer = setTimeout(next, Math.max(0, t0 + tick * everyMs - performance.now()));
    });
  };
  next();
  return async () => {
    running = false;
    clearTimeout(timer);
    await current;
    const s = summarize(durations);
    return {
      scrapes: durations.length,
      failed,
      withLag,
      withBacklog,
      durationMs: { p50: round(s.p50, 1), max: round(s.max, 1) },
      bytesPerScrape: durations.length > 0 ? Math.round(bytes / durations.length) : 0,
    };
  };
}

/** The service's settings of each mode. */
function modeEnv(mode: Mode, collector: Collector): Record<string, string> {
  return {
    METRICS_ENABLED: String(metricsOn(mode)),
    ...(tracingOn(mode) ? { OTEL_EXPORTER_OTLP_ENDPOINT: collector.url, OTEL_TRACES_SAMPLER_ARG: '1' } : {}),
  };
}

/**
 * `traceparent` headers as release-service's relay writes them: the context of the HTTP request that appended
 * the outbox rows, so every `perTrace` consecutive messages of one key share one (a new random trace, sampled).
 */
function traceparents(perTrace: number): { next: (key: string) => string | undefined; traces: () => number } {
  const current = new Map<string, { traceparent: string; left: number }>();
  let traces = 0;
  return {
    next: (key) => {
      if (perTrace === 0) return undefined;
      let t = current.get(key);
      if (!t || t.left === 0) {
        t = {
          traceparent: `00-${randomBytes(16).toString('hex')}-${randomBytes(8).toString('hex')}-${Math.random() < cfg.traceSampled ? '01' : '00'}`,
          left: perTrace,
        };
        current.set(key, t);
        traces += 1;
      }
      t.left -= 1;
      return t.traceparent;
    },
    traces: () => traces,
  };
}

const traceIdOf = (traceparent: string): string | undefined =>
  /^[\da-f]{2}-([\da-f]{32})-[\da-f]{16}-[\da-f]{2}$/.exec(traceparent)?.[1];

async function produce(topic: string, messages: Message[]): Promise<number> {
  const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await producer.connect();
  const t0 = performance.now();
  try {
    for (let i = 0; i < messages.length; i += cfg.produceBatch)
      await producer.send({ topic, acks: -1, messages: messages.slice(i, i + cfg.produceBatch) });
  } finally {
    await producer.disconnect();
  }
  return (performance.now() - t0) / 1000;
}

interface CpuFigures {
  serviceS: number;
  /** This process: collector, scraper, receivers, row counting. */
  benchS: number;
  postgresS: number;
  kafkaS: number;
  machineBusyPct: number;
  /**
   * The machine's busy time not used by the service, this process, PostgreSQL or Kafka (%, all cores = 100):
   * other workloads. Near 0 or the run is noisy (another's use of PostgreSQL or Kafka is not in it).
   */
  othersPct: number;
}
type Window = CpuWindow & { postgresS: number; kafkaS: number; wallS: number };

function cpuWin(pid: number | undefined): () => Window {
  const stop = cpuWindow(pid);
  const pg0 = commandCpuS(['postgres']);
  const kafka0 = commandCpuS(['java']);
  const t0 = performance.now();
  return () => ({
    ...stop(),
    postgresS: commandCpuS(['postgres']) - pg0,
    kafkaS: commandCpuS(['java']) - kafka0,
    wallS: (performance.now() - t0) / 1000,
  });
}
const CORES = cpus().length;
const cpuFigures = (c: Window): CpuFigures => {
  const busyS = c.machineBusy * CORES * c.wallS;
  const othersS = Math.max(0, busyS - c.processS - c.selfS - c.postgresS - c.kafkaS);
  return {
    serviceS: round(c.processS, 2),
    benchS: round(c.selfS, 2),
    postgresS: round(c.postgresS, 2),
    kafkaS: round(c.kafkaS, 2),
    machineBusyPct: round(c.machineBusy * 100, 1),
    othersPct: round((othersS / (CORES * c.wallS)) * 100, 1),
  };
};

/** What every run reports, whichever service. */
interface Run {
  service: ServiceKind;
  mode: Mode;
  round: number;
  /** The headline rate: events stored/s (recorder) or deliveries/s (streamer). */
  perS: number;
  /** Work units of the rate: events stored or deliveries (2xx of release_created). */
  done: number;
  expected: number;
  complete: boolean;
  windowS: number;
  bootS: number;
  /** Service CPU per 1000 units, ready → done (boot left out). */
  cpuPer1000Ms: number;
  cpu: CpuFigures;
  rssHwmMb: number;
  exitCode: number | null;
  spans: SpanCounts;
  scrape?: ScrapeStats;
}

// ---------------------------------------------------------------- recorder

function recorderMessages(): { messages: Message[]; traces: number } {
  const tp = traceparents(cfg.eventsPerTrace);
  const messages: Message[] = [];
  for (let n = 1; n <= cfg.events; n++) {
    const projectId = (n % cfg.projects) + 1;
    const key = `Project:${projectId}`;
    const event = releaseCreatedEvent(n, projectId, `bench-group/project-${projectId}`);
    const traceparent = tp.next(key);
    messages.push({ key, value: JSON.stringify(event), ...(traceparent ? { headers: { traceparent } } : {}) });
  }
  return { messages, traces: tp.traces() };
}

/** Polls `count` until it reaches `expected` or the deadline; the first non-zero sample opens the steady window. */
async function waitCount(
  count: () => Promise<number>,
  expected: number,
  deadline: number,
): Promise<{ first?: { at: number; count: number }; doneAt: number; done: number }> {
  let first: { at: number; count: number } | undefined;
  for (;;) {
    const done = await count();
    const at = performance.now();
    if (!first && done > 0) first = { at, count: done };
    if (done >= expected || at > deadline) return { first, doneAt: at, done };
    await sleep(done > 0 ? 50 : 25);
  }
}

async function recorderRun(mode: Mode, roundNo: number, index: number, collector: Collector): Promise<Run> {
  const db = `bench_obs_rec_${suffix}_${index}`;
  const auditLog = join(tmpdir(), `bench-obs-rec-${suffix}-${index}.log`);
  databases.push(db);
  auditLogs.push(auditLog);
  const env: Record<string, string> = {
    ...(await serviceDatabase('audit-recorder', SERVER_URL, db)),
    KAFKA_BROKERS: BROKERS.join(','),
    KAFKA_TOPIC: recorderTopic,
    KAFKA_TOPIC_PARTITIONS: String(cfg.partitions),
    KAFKA_GROUP_ID: `bench-obs-rec-${suffix}-${index}`,
    AUDIT_LOG_FILE: auditLog,
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: cfg.logLevel,
    ...modeEnv(mode, collector),
  };
  collector.take();
  const svc = await startRecorder(env, cfg.serviceNodeArgs);
  services.add(svc);
  const bootS = round((performance.now() - svc.spawnedAt) / 1000, 2);
  const stopScrape = metricsOn(mode) ? startScraper(svc.url, cfg.scrapeMs, 'audit_outbox_pending_events') : undefined;
  const stopCpu = cpuWin(svc.pid);
  const pg = new Client({ connectionString: databaseUrl(SERVER_URL, db) });
  // Ctrl-C drops the database under it (WITH (FORCE)): the cleanup must go on, not die of an unhandled 'error'.
  pg.on('error', () => undefined);
  await pg.connect();
  try {
    const count = async () =>
      Number(
        (await pg.query<{ n: string }>(`select count(*) as n from audit_events where event_type = 'release_created'`))
          .rows[0].n,
      );
    const r = await waitCount(count, cfg.events, performance.now() + cfg.timeoutMs);
    const cpu = stopCpu();
    const scrape = await stopScrape?.();
    const rssHwmMb = round(peakRssMb(svc.pid), 1);
    const exitCode = await svc.stop();
    services.delete(svc);
    const windowS = r.first ? (r.doneAt - r.first.at) / 1000 : NaN;
    return {
      service: 'recorder',
      mode,
      round: roundNo,
      perS: round(r.first ? (r.done - r.first.count) / windowS : NaN, 0),
      done: r.done,
      expected: cfg.events,
      complete: r.done >= cfg.events,
      windowS: round(windowS, 2),
      bootS,
      cpuPer1000Ms: round((cpu.processS * 1e6) / r.done, 1),
      cpu: cpuFigures(cpu),
      rssHwmMb,
      exitCode,
      spans: collector.take(),
      scrape,
    };
  } finally {
    await pg.end();
    // Now rather than at the end: the next run's PostgreSQL is not the fuller for this one.
    await dropDatabase(SERVER_URL, db).catch((err: Error) => log(`dropping ${db}: ${err.message}`));
  }
}

// ---------------------------------------------------------------- streamer

/**
 * A webhook receiver: 200 at once (keep-alive), counting the deliveries of ReleaseCreated audit events per
 * audit event id and which carry a `traceparent`, and of those which continue the event's own trace.
 */
class Receiver {
  ok = new Map<string, number>();
  total = 0;
  other = 0;
  withTraceparent = 0;
  sameTrace = 0;
  firstAt = Infinity;
  lastAt = -Infinity;
  url = '';
  private readonly server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));

  constructor(private readonly traceOf: ReadonlyMap<string, string>) {
    this.server.headersTimeout = 70_000;
    this.server.requestTimeout = 0;
  }

  async start(): Promise<void> {
    this.url = `${await listen(this.server)}/hook`;
  }

  reset(): void {
    this.ok = new Map();
    this.total = 0;
    this.other = 0;
    this.withTraceparent = 0;
    this.sameTrace = 0;
    this.firstAt = Infinity;
    this.lastAt = -Infinity;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const id = req.headers['webhook-id'];
    const type = req.headers['x-gitlab-audit-event-type'];
    const traceparent = req.headers['traceparent'];
    req.resume();
    req.once('end', () => {
      const at = performance.now();
      if (type !== 'release_created' || typeof id !== 'string') this.other += 1;
      else {
        this.ok.set(id, (this.ok.get(id) ?? 0) + 1);
        this.total += 1;
        if (at < this.firstAt) this.firstAt = at;
        this.lastAt = at;
        if (typeof traceparent === 'string') {
          this.withTraceparent += 1;
          const expected = this.traceOf.get(id);
          if (expected !== undefined && traceIdOf(traceparent) === expected) this.sameTrace += 1;
        }
      }
      res.writeHead(200, { 'content-length': '0' }).end();
    });
  }
}

/** The group and its projects, as release-service announces them: the streamer learns namespaces from these. */
function namespaceMessages(): Message[] {
  const projectPath = (id: number) => `${groupPath}/p${id}`;
  const events: DomainEvent[] = [
    envelope(
      'GroupCreated',
      { group_id: 1, path: groupPath, name: 'Bench', full_path: groupPath, parent_id: null },
      { type: 'Group', id: '1', version: 1 },
      { entity_type: 'Group', entity_id: 1, entity_path: groupPath },
      meta,
    ),
    ...Array.from({ length: cfg.projects }, (_, i) =>
      envelope(
        'ProjectCreated',
        { project_id: i + 1, path: `p${i + 1}`, name: `P${i + 1}`, full_path: projectPath(i + 1), namespace_id: 1 },
        { type: 'Project', id: String(i + 1), version: 1 },
        { entity_type: 'Project', entity_id: i + 1, entity_path: projectPath(i + 1) },
        meta,
      ),
    ),
  ];
  return events.map((e) => ({ key: `${e.scope.entity_type}:${e.scope.entity_id}`, value: JSON.stringify(e) }));
}

/** The ReleaseCreated messages of every streamer run, and the trace id each audit event's header carries. */
function streamerMessages(): { messages: Message[]; traceOf: Map<string, string>; traces: number } {
  const tp = traceparents(cfg.eventsPerTrace);
  const messages: Message[] = [];
  const traceOf = new Map<string, string>();
  for (let n = 1; n <= cfg.streamEvents; n++) {
    const projectId = (n % cfg.projects) + 1;
    const key = `Project:${projectId}`;
    const event = releaseCreatedEvent(n, projectId, `${groupPath}/p${projectId}`);
    const traceparent = tp.next(key);
    const traceId = traceparent && traceIdOf(traceparent);
    // Only a recorded trace reaches the receivers (a trace not recorded ends at the consumer).
    if (traceId && traceparent.endsWith('-01')) traceOf.set(auditEventIdFor(event.id, 'release_created'), traceId);
    messages.push({ key, value: JSON.stringify(event), ...(traceparent ? { headers: { traceparent } } : {}) });
  }
  return { messages, traceOf, traces: tp.traces() };
}

async function createDestinations(service: RunningService, receivers: Receiver[]): Promise<void> {
  const owner = jwt.sign({ sub: '2', name: 'bench-owner', groups: { [groupPath]: 'owner' } }, SECRET, {
    algorithm: 'HS256',
    expiresIn: '2h',
  });
  for (const [i, receiver] of receivers.entries()) {
    const deadline = Date.now() + 60_000;
    for (;;) {
      const res = await fetch(
        `${service.url}/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` },
          body: JSON.stringify({ destination_url: receiver.url, name: `bench receiver ${i + 1}` }),
        },
      );
      const text = await res.text();
      if (res.status === 201) break;
      // 404 until the streamer has consumed the GroupCreated event.
      if (res.status !== 404 || Date.now() > deadline)
        throw new Error(`creating destination ${i + 1}: HTTP ${res.status} ${text.slice(0, 300)}`);
      await sleep(200);
    }
  }
}

interface StreamerRun extends Run {
  withTraceparent: number;
  sameTrace: number;
  duplicates: number;
  otherRequests: number;
  produceS: number;
}

async function streamerRun(
  mode: Mode,
  roundNo: number,
  index: number,
  collector: Collector,
  receivers: Receiver[],
  releases: Message[],
): Promise<StreamerRun> {
  const topic = `bench-obs-str-${suffix}-${index}`;
  const db = `bench_obs_str_${suffix}_${index}`;
  topics.push(topic);
  databases.push(db);
  receivers.forEach((r) => r.reset());
  await createLogAppendTimeTopic(kafka, topic, cfg.partitions);
  const env: Record<string, string> = {
    ...(await serviceDatabase('audit-streamer', SERVER_URL, db)),
    KAFKA_BROKERS: BROKERS.join(','),
    KAFKA_TOPIC: topic,
    KAFKA_TOPIC_PARTITIONS: String(cfg.partitions),
    KAFKA_GROUP_ID: `bench-obs-str-${suffix}-${index}`,
    AUTH_JWT_SECRET: SECRET,
    LOG_LEVEL: cfg.logLevel,
    ENCRYPTION_KEY: randomBytes(32).toString('base64'),
    STREAMING_ALLOW_HTTP: 'true',
    STREAMING_ALLOWED_HOSTS: '127.0.0.1',
    ...modeEnv(mode, collector),
  };
  try {
    // Set-up: the streamer learns the group and gets its destinations, then stops, so that the events below
    // wait in Kafka and the measured process drains them alone (no producer competing for the cores).
    await produce(topic, namespaceMessages());
    const setup = await startStreamer(env, cfg.serviceNodeArgs);
    services.add(setup);
    await createDestinations(setup, receivers);
    await setup.stop();
    services.delete(setup);
    const produceS = await produce(topic, releases);

    collector.take();
    const svc = await startStreamer(env, cfg.serviceNodeArgs);
    services.add(svc);
    const bootS = round((performance.now() - svc.spawnedAt) / 1000, 2);
    const stopScrape = metricsOn(mode)
      ? startScraper(svc.url, cfg.scrapeMs, 'audit_stream_pending_deliveries')
      : undefined;
    const stopCpu = cpuWin(svc.pid);
    const deadline = performance.now() + cfg.timeoutMs;
    while (!receivers.every((r) => r.ok.size >= releases.length) && performance.now() < deadline) await sleep(50);
    const cpu = stopCpu();
    const scrape = await stopScrape?.();
    const rssHwmMb = round(peakRssMb(svc.pid), 1);
    const exitCode = await svc.stop();
    services.delete(svc);
    const done = receivers.reduce((a, r) => a + r.total, 0);
    const unique = receivers.reduce((a, r) => a + r.ok.size, 0);
    const windowS = (Math.max(...receivers.map((r) => r.lastAt)) - Math.min(...receivers.map((r) => r.firstAt))) / 1000;
    return {
      service: 'streamer',
      mode,
      round: roundNo,
      perS: round(windowS > 0 ? done / windowS : NaN, 0),
      done,
      expected: releases.length * receivers.length,
      complete: unique >= releases.length * receivers.length,
      windowS: round(windowS, 2),
      bootS,
      cpuPer1000Ms: round((cpu.processS * 1e6) / done, 1),
      cpu: cpuFigures(cpu),
      rssHwmMb,
      exitCode,
      spans: collector.take(),
      scrape,
      withTraceparent: receivers.reduce((a, r) => a + r.withTraceparent, 0),
      sameTrace: receivers.reduce((a, r) => a + r.sameTrace, 0),
      duplicates: done - unique,
      otherRequests: receivers.reduce((a, r) => a + r.other, 0),
      produceS: round(produceS, 2),
    };
  } finally {
    // Now rather than at the end: the next run's PostgreSQL and broker are not the fuller for this one.
    await dropDatabase(SERVER_URL, db).catch((err: Error) => log(`dropping ${db}: ${err.message}`));
    await deleteTopics(kafka, [topic, `${topic}.dlq`]).catch((err: Error) => log(`deleting ${topic}: ${err.message}`));
  }
}

// ---------------------------------------------------------------- figures

const median = (values: number[]): number => {
  const sorted = values.filter(Number.isFinite).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};

interface Comparison {
  off: number;
  on: number;
  ratio: number;
  cpuOff: number;
  cpuOn: number;
  /** BENCH_SPLIT=1: each half alone, median rate and its ratio to off. */
  split?: Record<'metrics' | 'tracing', { perS: number; ratio: number; cpuPer1000Ms: number }>;
}

function compare(runs: Run[]): Comparison {
  const of = (mode: Mode, pick: (r: Run) => number) => median(runs.filter((r) => r.mode === mode).map(pick));
  const rate = (mode: Mode) => of(mode, (r) => r.perS);
  const cpu = (mode: Mode) =>
    round(
      of(mode, (r) => r.cpuPer1000Ms),
      1,
    );
  const off = rate('off');
  const half = (mode: 'metrics' | 'tracing') => ({
    perS: round(rate(mode), 0),
    ratio: round(rate(mode) / off, 3),
    cpuPer1000Ms: cpu(mode),
  });
  return {
    off: round(off, 0),
    on: round(rate('on'), 0),
    ratio: round(rate('on') / off, 3),
    cpuOff: cpu('off'),
    cpuOn: cpu('on'),
    split: MODES.includes('metrics') ? { metrics: half('metrics'), tracing: half('tracing') } : undefined,
  };
}

const cell = (v: number | string | undefined): string =>
  v === undefined || (typeof v === 'number' && !Number.isFinite(v)) ? '—' : String(v);

function runsTable(runs: Run[], unit: string): string {
  const lines = [
    `| round | mode | ${unit} | window (s) | service CPU / 1000 (ms) | bench CPU (s) | PostgreSQL CPU (s) | machine busy % (others) | RSS high-water (MB) | spans (consumer / client) | OTLP requests | scrapes (lag, backlog; p50 / max ms) |`,
    '| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- |',
  ];
  for (const r of runs) {
    const s = r.scrape;
    lines.push(
      `| ${r.round} | ${r.mode} | ${cell(r.perS)}${r.complete ? '' : ' INCOMPLETE'} | ${cell(r.windowS)} | ${cell(r.cpuPer1000Ms)} | ${cell(r.cpu.benchS)} | ${cell(r.cpu.postgresS)} | ${cell(r.cpu.machineBusyPct)} (${cell(r.cpu.othersPct)}) | ${cell(r.rssHwmMb)} | ${r.spans.spans} (${r.spans.consumerSpans} / ${r.spans.clientSpans}) | ${r.spans.requests} | ${s ? `${s.scrapes}${s.failed ? ` (${s.failed} failed)` : ''} (${s.withLag}, ${s.withBacklog}; ${s.durationMs.p50} / ${s.durationMs.max})` : '—'} |`,
    );
  }
  return lines.join('\n');
}

const sum = <R extends Run>(runs: R[], pick: (r: R) => number) => runs.reduce((a, r) => a + pick(r), 0);

const splitLine = (c: Comparison): string =>
  c.split
    ? `\n- alone (diagnostics): metrics ${c.split.metrics.perS} (${c.split.metrics.ratio} of off, CPU ${c.split.metrics.cpuPer1000Ms} ms/1000), tracing ${c.split.tracing.perS} (${c.split.tracing.ratio} of off, CPU ${c.split.tracing.cpuPer1000Ms} ms/1000)`
    : '';

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `suffix ${suffix}: ${cfg.services.join(' and ')}, ${cfg.rounds} rounds of off/on; recorder ${cfg.events} events, streamer ${cfg.streamEvents} events × ${cfg.receivers} receivers; ${cfg.partitions} partitions, ${cfg.projects} projects, ${cfg.eventsPerTrace === 0 ? 'no traceparent headers' : `${cfg.eventsPerTrace} events per trace (${Math.round(cfg.traceSampled * 100)} % of traces sampled)`}, scrape every ${cfg.scrapeMs} ms`,
  );
  const collector = new Collector();
  await collector.start();
  log(`OTLP collector at ${collector.url}/v1/traces`);

  const recorderRuns: Run[] = [];
  let recorderTraces = 0;
  let preloadS = NaN;
  if (cfg.services.includes('recorder')) {
    topics.push(recorderTopic);
    await createLogAppendTimeTopic(kafka, recorderTopic, cfg.partitions);
    const { messages, traces } = recorderMessages();
    recorderTraces = traces;
    preloadS = round(await produce(recorderTopic, messages), 2);
    log(`recorder: preloaded ${messages.length} events (${traces} traces) in ${preloadS} s`);
    for (let roundNo = 1; roundNo <= cfg.rounds; roundNo++)
      for (const mode of MODES) {
        const run = await recorderRun(mode, roundNo, recorderRuns.length + 1, collector);
        recorderRuns.push(run);
        log(
          `recorder round ${roundNo} ${mode}: ${run.perS} events/s steady (${run.done} stored in ${run.windowS} s, CPU ${run.cpuPer1000Ms} ms/1000, machine ${run.cpu.machineBusyPct}% busy, others ${run.cpu.othersPct}%), spans ${run.spans.spans}, scrapes ${run.scrape?.scrapes ?? '—'}${run.complete ? '' : ' INCOMPLETE'}`,
        );
      }
  }

  const streamerRuns: StreamerRun[] = [];
  let streamerTraces = 0;
  let streamerRecordedEvents = 0;
  if (cfg.services.includes('streamer')) {
    const { messages, traceOf, traces } = streamerMessages();
    streamerTraces = traces;
    streamerRecordedEvents = traceOf.size;
    const receivers: Receiver[] = [];
    for (let i = 0; i < cfg.receivers; i++) {
      const r = new Receiver(traceOf);
      await r.start();
      receivers.push(r);
    }
    for (let roundNo = 1; roundNo <= cfg.rounds; roundNo++)
      for (const mode of MODES) {
        const run = await streamerRun(mode, roundNo, streamerRuns.length + 1, collector, receivers, messages);
        streamerRuns.push(run);
        log(
          `streamer round ${roundNo} ${mode}: ${run.perS} deliveries/s (${run.done} in ${run.windowS} s, CPU ${run.cpuPer1000Ms} ms/1000, machine ${run.cpu.machineBusyPct}% busy, others ${run.cpu.othersPct}%), traceparent ${run.withTraceparent} (${run.sameTrace} of the event's trace), spans ${run.spans.spans} (${run.spans.clientSpans} client), scrapes ${run.scrape?.scrapes ?? '—'}${run.complete ? '' : ' INCOMPLETE'}`,
        );
      }
  }

  const rec = recorderRuns.length > 0 ? compare(recorderRuns) : undefined;
  const str = streamerRuns.length > 0 ? compare(streamerRuns) : undefined;
  const onRuns = <R extends Run>(runs: R[]) => runs.filter((r) => r.mode === 'on');
  const offRuns = <R extends Run>(runs: R[]) => runs.filter((r) => r.mode === 'off');
  const strOnDeliveries = sum(onRuns(streamerRuns), (r) => r.done);
  const strOnSameTrace = sum(onRuns(streamerRuns), (r) => r.sameTrace);
  const strOnRecorded = streamerRecordedEvents * cfg.receivers * onRuns(streamerRuns).length;
  const strOffTraceparent = sum(offRuns(streamerRuns), (r) => r.withTraceparent);
  const allComplete = (runs: Run[]) => runs.every((r) => r.complete);
  const medianOn = (runs: Run[], pick: (r: Run) => number) => median(onRuns(runs).map(pick));

  const verdict = (ratio: number) => (ratio >= RATIO_GOAL ? 'PASS' : 'MISS');
  let out = '';
  if (rec)
    out += `\naudit-recorder, ${cfg.events} events (${recorderTraces} traces), events stored/s steady:\n\n${runsTable(recorderRuns, 'events/s')}\n\n- ${verdict(rec.ratio)}  on / off: ${rec.on} / ${rec.off} = ${rec.ratio} (target >= ${RATIO_GOAL}); CPU per 1000 events ${rec.cpuOn} / ${rec.cpuOff} ms${splitLine(rec)}\n`;
  if (str)
    out += `\naudit-streamer, ${cfg.streamEvents} events (${streamerTraces} traces) × ${cfg.receivers} destinations, deliveries/s:\n\n${runsTable(streamerRuns, 'deliveries/s')}\n\n- ${verdict(str.ratio)}  on / off: ${str.on} / ${str.off} = ${str.ratio} (target >= ${RATIO_GOAL}); CPU per 1000 deliveries ${str.cpuOn} / ${str.cpuOff} ms${splitLine(str)}\n- deliveries with a traceparent: ${sum(onRuns(streamerRuns), (r) => r.withTraceparent)} of ${strOnDeliveries} when on (${strOnSameTrace} in the event's own trace; ${strOnRecorded} of recorded traces expected), ${strOffTraceparent} when off\n- duplicates: ${sum(streamerRuns, (r) => r.duplicates)}; the streamer's own audit events delivered: ${sum(streamerRuns, (r) => r.otherRequests)}\n`;
  process.stdout.write(
    `${out}\nSpans: as counted by the collector from the measured process (boot to exit); consumer = the chunks' spans, client = the delivery requests'. Scrapes: (with kafka_consumer_lag, with the PostgreSQL backlog gauge). Machine busy before the run: ${busyBeforePct}%.\n`,
  );

  const results = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: cfg,
    recorder: rec && { preloadS, traces: recorderTraces, comparison: rec, runs: recorderRuns },
    streamer: str && { traces: streamerTraces, comparison: str, runs: streamerRuns },
  };
  writeResults('observability', results, [
    ...(rec
      ? [
          {
            name: `recorder: events stored/s, steady, metrics and tracing on (baseline: off; medians of ${cfg.rounds} run${cfg.rounds === 1 ? '' : 's'} each)`,
            value: rec.on,
            baseline: rec.off,
            goals: [{ on: 'ratio' as const, goal: `>= ${RATIO_GOAL}` }],
          },
          { name: 'recorder: CPU per 1000 events (ms), on (baseline: off)', value: rec.cpuOn, baseline: rec.cpuOff },
          {
            name: 'recorder: spans exported per run, on (median)',
            value: medianOn(recorderRuns, (r) => r.spans.spans),
          },
          {
            name: 'recorder: /metrics scrapes per run, on (median)',
            value: medianOn(recorderRuns, (r) => r.scrape?.scrapes ?? 0),
          },
          {
            name: 'recorder: events stored, every run',
            value: sum(recorderRuns, (r) => r.done),
            goals: [{ goal: `= ${cfg.events * recorderRuns.length}` }],
            pass: allComplete(recorderRuns),
          },
        ]
      : []),
    ...(str
      ? [
          {
            name: `streamer: deliveries/s, catch-up, metrics and tracing on (baseline: off; medians of ${cfg.rounds} run${cfg.rounds === 1 ? '' : 's'} each)`,
            value: str.on,
            baseline: str.off,
            goals: [{ on: 'ratio' as const, goal: `>= ${RATIO_GOAL}` }],
          },
          {
            name: 'streamer: CPU per 1000 deliveries (ms), on (baseline: off)',
            value: str.cpuOn,
            baseline: str.cpuOff,
          },
          {
            name: 'streamer: spans exported per run, on (median)',
            value: medianOn(streamerRuns, (r) => r.spans.spans),
          },
          {
            name: 'streamer: client spans exported, on runs (baseline: deliveries)',
            value: sum(onRuns(streamerRuns), (r) => r.spans.clientSpans),
            baseline: strOnDeliveries,
          },
          {
            name: 'streamer: /metrics scrapes per run, on (median)',
            value: medianOn(streamerRuns, (r) => r.scrape?.scrapes ?? 0),
          },
          // Without headers (BENCH_TRACE_EVENTS=0) the deliveries carry their chunk's new trace: nothing to match.
          ...(cfg.eventsPerTrace > 0
            ? [
                {
                  name: "streamer: deliveries carrying the event's trace, on runs (baseline: deliveries of recorded traces)",
                  value: strOnSameTrace,
                  baseline: strOnRecorded,
                  goals: [{ on: 'ratio' as const, goal: '= 1' }],
                  pass:
                    strOnSameTrace === strOnRecorded &&
                    sum(onRuns(streamerRuns), (r) => r.withTraceparent) === strOnRecorded,
                },
              ]
            : []),
          {
            name: 'streamer: deliveries carrying a traceparent, off runs',
            value: strOffTraceparent,
            goals: [{ goal: '= 0' }],
          },
          {
            name: 'streamer: events at every receiver, every run',
            value: sum(streamerRuns, (r) => r.done - r.duplicates),
            goals: [{ goal: `= ${cfg.streamEvents * cfg.receivers * streamerRuns.length}` }],
            pass: allComplete(streamerRuns),
          },
        ]
      : []),
  ]);
}

process.once('SIGINT', () => void cleanup().finally(() => process.exit(130)));
main()
  .catch((err: Error) => {
    process.exitCode = 1;
    const tails = [...services].map((s) => `--- service log tail ---\n${s.logTail().slice(-4000)}\n`).join('');
    process.stderr.write(`[bench] failed: ${err.stack ?? err.message}\n${tails}`);
  })
  .finally(() => cleanup());
