/**
 * The services side of the end-to-end benchmark: release-service, audit-recorder and audit-streamer
 * built and run as processes on one fresh topic and three fresh databases, a group with projects
 * created over HTTP, the receiver registered as the group's streaming destination, releases written
 * over keep-alive HTTP, and the recorder's group query API as the poller's page source.
 */
import jwt from 'jsonwebtoken';
import { Kafka } from 'kafkajs';
import { Pool } from 'undici';
import { Action, Pipeline } from './e2e-load';
import { PageSource } from './e2e-poller';
import { startRecorder } from './recorder-service';
import { sleep } from './run';
import { RunningService, serviceDatabase, startBuiltService, UNREACHABLE_RATE_LIMIT } from './service';

export interface ServicesConfig {
  serverUrl: string;
  brokers: string[];
  secret: string;
  suffix: string;
  partitions: number;
  projects: number;
  logLevel: string;
  auditLog: string;
  /** HTTP connections to the release-service (requests beyond them queue in the client, still timed from their schedule). */
  connections: number;
}

export const serviceNames = (suffix: string) => ({
  topic: `bench-e2e-${suffix}`,
  databases: [`bench_e2e_release_${suffix}`, `bench_e2e_recorder_${suffix}`, `bench_e2e_streamer_${suffix}`],
  groupPath: `bench-e2e-${suffix}`,
});

/** ~200 bytes, as in the release-service benchmark: a realistic event size. */
const DESCRIPTION = 'Benchmark release. '.repeat(10);

export async function createTopic(kafka: Kafka, topic: string, partitions: number): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    await admin.createTopics({
      waitForLeaders: true,
      topics: [{ topic, numPartitions: partitions, replicationFactor: -1 }],
    });
  } finally {
    await admin.disconnect();
  }
}

export interface ServicesPipeline extends Pipeline {
  services: RunningService[];
  source: PageSource<string>;
  close(): Promise<void>;
}

async function request(
  pool: Pool,
  method: 'POST' | 'PUT',
  path: string,
  token: string,
  body: unknown,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await pool.request({
    method,
    path,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify(body),
  });
  const text = await res.body.text();
  if (res.statusCode !== 200 && res.statusCode !== 201)
    throw new Error(`${method} ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
  return text;
}

/** Starts the three services (pushed onto `started` as they come up, for the caller's cleanup) and sets up the group. */
export async function startServicesPipeline(
  cfg: ServicesConfig,
  receiverUrl: string,
  started: RunningService[],
): Promise<ServicesPipeline> {
  const names = serviceNames(cfg.suffix);
  const common = {
    KAFKA_BROKERS: cfg.brokers.join(','),
    KAFKA_TOPIC: names.topic,
    KAFKA_TOPIC_PARTITIONS: String(cfg.partitions),
    AUTH_JWT_SECRET: cfg.secret,
    LOG_LEVEL: cfg.logLevel,
    // Writes and polls from one token each, up to thousands a minute: the limiter still runs on every request (its cost stays in the figures), it never refuses.
    RATE_LIMIT_PER_MINUTE: UNREACHABLE_RATE_LIMIT,
  };
  // Each database as in production: provisioned by the superuser, migrated by the owner role, served by the runtime role.
  const [releaseDb, recorderDb, streamerDb] = await Promise.all([
    serviceDatabase('release-service', cfg.serverUrl, names.databases[0]),
    serviceDatabase('audit-recorder', cfg.serverUrl, names.databases[1]),
    serviceDatabase('audit-streamer', cfg.serverUrl, names.databases[2]),
  ]);
  const launch = async (start: Promise<RunningService>) => {
    const s = await start;
    started.push(s);
    return s;
  };
  // E2E_SERVICE_NODE_ARGS: extra node flags for the three services, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = (process.env['E2E_SERVICE_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
  const [release, recorder, streamer] = await Promise.all([
    launch(startBuiltService('release-service', { ...common, ...releaseDb }, nodeArgs)),
    launch(
      startRecorder(
        { ...common, ...recorderDb, KAFKA_GROUP_ID: `bench-e2e-recorder-${cfg.suffix}`, AUDIT_LOG_FILE: cfg.auditLog },
        nodeArgs,
      ),
    ),
    launch(
      startBuiltService(
        'audit-streamer',
        {
          ...common,
          ...streamerDb,
          KAFKA_GROUP_ID: `bench-e2e-streamer-${cfg.suffix}`,
          STREAMING_ALLOW_HTTP: 'true',
          STREAMING_ALLOWED_HOSTS: '127.0.0.1',
        },
        nodeArgs,
      ),
    ),
  ]);
  const admin = jwt.sign({ sub: '1', name: 'bench-admin', admin: true }, cfg.secret, {
    algorithm: 'HS256',
    expiresIn: '4h',
  });
  // One owner token: owners may write releases, read the group's audit events and manage its destinations.
  const owner = jwt.sign({ sub: '2', name: 'bench-owner', groups: { [names.groupPath]: 'owner' } }, cfg.secret, {
    algorithm: 'HS256',
    expiresIn: '4h',
  });
  const writes = new Pool(release.url, { connections: cfg.connections, pipelining: 1 });
  const reads = new Pool(recorder.url, { connections: 1, pipelining: 1 });
  const group = JSON.parse(
    await request(writes, 'POST', '/api/v4/groups', admin, { path: names.groupPath, name: 'Bench e2e' }),
  ) as { id: number };
  const projectIds: number[] = [];
  for (let i = 0; i < cfg.projects; i++) {
    projectIds.push(
      (
        JSON.parse(
          await request(writes, 'POST', '/api/v4/projects', admin, {
            path: `p${i}`,
            name: `P${i}`,
            namespace_id: group.id,
          }),
        ) as { id: number }
      ).id,
    );
  }
  await createDestination(streamer.url, names.groupPath, owner, receiverUrl);

  const write = async (a: Action): Promise<void> => {
    const base = `/api/v4/projects/${projectIds[a.release.project]}/releases`;
    const headers = { 'x-correlation-id': a.correlationId };
    if (a.kind === 'create')
      await request(
        writes,
        'POST',
        base,
        owner,
        { tag_name: a.release.tag, name: `Release ${a.release.tag}`, description: DESCRIPTION },
        headers,
      );
    else
      await request(
        writes,
        'PUT',
        `${base}/${a.release.tag}`,
        owner,
        { name: `Release ${a.release.tag} renamed` },
        headers,
      );
  };
  const groupEvents = `/api/v4/groups/${encodeURIComponent(names.groupPath)}/audit_events?sort=asc&per_page=100`;
  const source: PageSource<string> = async (after, cursor) => {
    const path = cursor ?? `${groupEvents}&created_after=${encodeURIComponent(after)}`;
    const res = await reads.request({ method: 'GET', path, headers: { authorization: `Bearer ${owner}` } });
    const text = await res.body.text();
    // 404 until the recorder has consumed the GroupCreated event.
    if (res.statusCode === 404) return { events: [] };
    if (res.statusCode !== 200) throw new Error(`GET ${path}: HTTP ${res.statusCode} ${text.slice(0, 300)}`);
    const events = (JSON.parse(text) as Array<{ created_at: string; details?: { correlation_id?: string } }>).map(
      (e) => ({ correlationId: e.details?.correlation_id, createdAt: Date.parse(e.created_at) }),
    );
    const link = res.headers['link'];
    const next = typeof link === 'string' ? /<([^>]+)>;\s*rel="next"/.exec(link)?.[1] : undefined;
    // Relative (`</api/v4/…>`) unless the service has a PUBLIC_URL; either way only its path and query are used.
    const url = next ? new URL(next, recorder.url) : undefined;
    return { events, next: url && `${url.pathname}${url.search}` };
  };
  let closed: Promise<unknown> | undefined;
  return {
    label: 'services',
    projects: cfg.projects,
    write,
    source,
    services: [release, recorder, streamer],
    pids: { 'release-service': release.pid, 'audit-recorder': recorder.pid, 'audit-streamer': streamer.pid },
    close: async () => {
      closed ??= Promise.all([writes.close(), reads.close()]);
      await closed;
    },
  };
}

/** Registers the receiver for the whole group; 404 until the streamer has consumed GroupCreated. */
async function createDestination(
  streamerUrl: string,
  groupPath: string,
  owner: string,
  receiverUrl: string,
): Promise<void> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const res = await fetch(
      `${streamerUrl}/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`,
      {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${owner}` },
        body: JSON.stringify({ destination_url: receiverUrl, name: 'bench e2e receiver' }),
      },
    );
    const text = await res.text();
    if (res.status === 201) return;
    if (res.status !== 404 || Date.now() > deadline)
      throw new Error(`creating the destination: HTTP ${res.status} ${text.slice(0, 300)}`);
    await sleep(200);
  }
}
