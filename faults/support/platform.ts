import { bearer, dropDatabase, testKafka, TEST_KAFKA_BROKERS, uniqueSuffix, waitFor } from '@audit/testing';
import { dlqTopicFor } from '@audit/contracts';
import { Kafka, logLevel } from 'kafkajs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// The e2e suite's process launcher, reused on purpose: one way to start the services as processes.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { restartService, RunningService, ServiceName, startService } from '../../e2e/support/services';
import { RESULTS_DIR } from './report';
import { FaultyReceiver, startFaultyReceiver } from './receiver';

/**
 * One scenario's world: the three services as processes on their own topic, consumer groups and
 * databases, a top-level group with a few projects (so traffic spreads over the partitions), and
 * streaming destinations backed by real local HTTP receivers.
 */
export interface DestinationSpec {
  name: string;
  /** Audit event types the destination asks for; empty: all. */
  filters: string[];
}

export interface Destination extends DestinationSpec {
  id: number;
  receiver: FaultyReceiver;
}

export interface Project {
  id: number;
  path: string;
}

export interface Platform {
  scenario: string;
  suffix: string;
  topic: string;
  brokers: string[];
  databases: Record<'release' | 'recorder' | 'streamer', string>;
  groupIds: Record<'recorder' | 'streamer', string>;
  services: Record<ServiceName, RunningService>;
  projects: Project[];
  destinations: Destination[];
  /** A maintainer of the group: may create and update releases in every project. */
  writer: string;
  kafka: Kafka;
  /**
   * The release-service instances the load may send to (a fleet: the replicas in rotation); unset: the one of
   * `services`.
   */
  releaseUrls?: () => string[];
  /** Run first by stop(): e.g. a load driver halts, so a failed scenario leaves nothing running. */
  onStop: Array<() => void>;
  stop: () => Promise<void>;
}

export interface PlatformOptions {
  destinations?: DestinationSpec[];
  projects?: number;
  /** Extra environment per service, e.g. short delivery timeouts. */
  env?: Partial<Record<ServiceName, Record<string, string>>>;
  brokers?: string[];
  /** The receiver behind each destination (default: startFaultyReceiver). */
  receiver?: () => Promise<FaultyReceiver>;
  /**
   * Starts the services with the environments given, resolving with one instance of each (default: release-service,
   * then both consumers). A fleet starts several of each (support/fleet.ts).
   */
  startServices?: (envs: Record<ServiceName, Record<string, string>>) => Promise<Record<ServiceName, RunningService>>;
}

const DEFAULT_DESTINATIONS: DestinationSpec[] = [
  { name: 'siem', filters: [] },
  { name: 'created-only', filters: ['release_created'] },
];

/** Fast retries, so a scenario converges in seconds once its fault is over. */
const STREAMER_ENV = {
  STREAMING_ALLOW_HTTP: 'true',
  STREAMING_ALLOWED_HOSTS: '127.0.0.1',
  DELIVERY_RETRY_BASE_MS: '200',
  DELIVERY_RETRY_MAX_MS: '2000',
  DELIVERY_PAUSE_MAX_MS: '2000',
  DELIVERY_TIMEOUT_MS: '2000',
  DELIVERY_POLL_INTERVAL_MS: '500',
};

export async function startPlatform(scenario: string, options: PlatformOptions = {}): Promise<Platform> {
  const suffix = uniqueSuffix();
  const slug = scenario.replace(/[^a-z0-9]+/g, '_');
  const topic = `faults-${slug}-${suffix}`;
  const brokers = options.brokers ?? TEST_KAFKA_BROKERS;
  const databases = {
    release: `faults_release_${suffix}`,
    recorder: `faults_recorder_${suffix}`,
    streamer: `faults_streamer_${suffix}`,
  };
  const groupIds = { recorder: `faults-recorder-${suffix}`, streamer: `faults-streamer-${suffix}` };
  const common = {
    KAFKA_TOPIC: topic,
    KAFKA_BROKERS: brokers.join(','),
    LOG_LEVEL: process.env['FAULTS_LOG_LEVEL'] ?? 'warn',
  };
  const envs: Record<ServiceName, Record<string, string>> = {
    'release-service': { ...common, DATABASE_NAME: databases.release, ...options.env?.['release-service'] },
    'audit-recorder': {
      ...common,
      DATABASE_NAME: databases.recorder,
      KAFKA_GROUP_ID: groupIds.recorder,
      AUDIT_LOG_FILE: `tmp/faults-${suffix}/audit_json.log`,
      // The faults read the active log file only: no rotation at midnight in the middle of a run.
      AUDIT_LOG_ROTATE_DAILY: 'false',
      ...options.env?.['audit-recorder'],
    },
    'audit-streamer': {
      ...common,
      DATABASE_NAME: databases.streamer,
      KAFKA_GROUP_ID: groupIds.streamer,
      ...STREAMER_ENV,
      ...options.env?.['audit-streamer'],
    },
  };
  const receivers = await Promise.all(
    (options.destinations ?? DEFAULT_DESTINATIONS).map(() => (options.receiver ?? startFaultyReceiver)()),
  );
  const kafka =
    brokers === TEST_KAFKA_BROKERS
      ? testKafka(`faults-${suffix}`)
      : new Kafka({ brokers, clientId: `faults-${suffix}`, logLevel: logLevel.NOTHING });
  let services: Record<ServiceName, RunningService>;
  try {
    services = await (options.startServices ?? startOneOfEach)(envs);
  } catch (err) {
    // Open receivers would keep jest from exiting; the scenario's databases and topics would stay behind.
    await Promise.all(receivers.map((r) => r.close()));
    await Promise.all(Object.values(databases).map(dropDatabase));
    await deleteTopics(kafka, [topic, dlqTopicFor(topic)]);
    throw err;
  }
  const { 'release-service': release, 'audit-streamer': streamer } = services;
  const platform: Platform = {
    scenario,
    suffix,
    topic,
    brokers,
    databases,
    groupIds,
    services,
    projects: [],
    destinations: [],
    writer: '',
    kafka,
    onStop: [],
    stop: async () => undefined,
  };
  platform.stop = () => stopPlatform(platform, receivers);
  const setup = await createNamespaces(release.url, suffix, options.projects ?? 4);
  platform.projects = setup.projects;
  platform.writer = setup.writer;
  platform.destinations = await createDestinations(
    streamer.url,
    setup.groupPath,
    options.destinations ?? DEFAULT_DESTINATIONS,
    receivers,
  );
  return platform;
}

async function startOneOfEach(
  envs: Record<ServiceName, Record<string, string>>,
): Promise<Record<ServiceName, RunningService>> {
  // release-service first: it creates the topic with its partitions before the consumers subscribe.
  const release = await startService('release-service', envs['release-service']);
  const [recorder, streamer] = await Promise.all([
    startService('audit-recorder', envs['audit-recorder']),
    startService('audit-streamer', envs['audit-streamer']),
  ]);
  return { 'release-service': release, 'audit-recorder': recorder, 'audit-streamer': streamer };
}

/** SIGKILL: no shutdown hook runs, in-flight work is simply gone. Resolves once the process is. */
export async function kill(platform: Platform, name: ServiceName): Promise<void> {
  const code = await platform.services[name].stop('SIGKILL');
  if (code !== null) throw new Error(`${name} had already exited with ${code} before it was killed`);
}

/** The same service again, same port and environment; its earlier logs are kept in front. */
export async function restart(platform: Platform, name: ServiceName): Promise<RunningService> {
  const before = platform.services[name];
  const after = await restartService(before);
  after.logs.unshift(...before.logs, `\n--- ${name} restarted ---\n`);
  platform.services[name] = after;
  return after;
}

async function post(
  url: string,
  token: string,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { Authorization: token, 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function createNamespaces(
  releaseUrl: string,
  suffix: string,
  count: number,
): Promise<{ groupPath: string; projects: Project[]; writer: string }> {
  const admin = bearer({ sub: '1', name: 'alice', admin: true });
  const groupPath = `faults-${suffix}`;
  const group = await post(`${releaseUrl}/api/v4/groups`, admin, { path: groupPath, name: 'Faults' });
  if (group.status !== 201) throw new Error(`creating the group: ${group.status} ${JSON.stringify(group.body)}`);
  const projects: Project[] = [];
  for (let i = 0; i < count; i += 1) {
    const project = await post(`${releaseUrl}/api/v4/projects`, admin, {
      path: `p${i}`,
      name: `P${i}`,
      namespace_id: group.body['id'],
    });
    if (project.status !== 201)
      throw new Error(`creating a project: ${project.status} ${JSON.stringify(project.body)}`);
    projects.push({ id: project.body['id'] as number, path: `${groupPath}/p${i}` });
  }
  return { groupPath, projects, writer: bearer({ sub: '3', name: 'dev', groups: { [groupPath]: 'maintainer' } }) };
}

/** Destinations must exist before the load: the streamer matches an event when it consumes it. */
async function createDestinations(
  streamerUrl: string,
  groupPath: string,
  specs: DestinationSpec[],
  receivers: FaultyReceiver[],
): Promise<Destination[]> {
  const owner = bearer({ sub: '2', name: 'olivia', groups: { [groupPath]: 'owner' } });
  const url = `${streamerUrl}/api/v4/groups/${encodeURIComponent(groupPath)}/audit_events/streaming/destinations`;
  const destinations: Destination[] = [];
  for (const [i, spec] of specs.entries()) {
    const created = await waitFor(
      'the streamer to know the group',
      async () => {
        const res = await post(url, owner, {
          destination_url: receivers[i].url,
          name: spec.name,
          event_type_filters: spec.filters,
        });
        return res.status === 201
          ? res.body
          : res.status === 404
            ? undefined
            : Promise.reject(new Error(`${res.status} ${JSON.stringify(res.body)}`));
      },
      { timeoutMs: 60_000, intervalMs: 250 },
    );
    destinations.push({ ...spec, id: created['id'] as number, receiver: receivers[i] });
  }
  return destinations;
}

/** Stops what runs, keeps the logs under faults/results/logs, and removes databases and topics. */
async function stopPlatform(platform: Platform, receivers: FaultyReceiver[]): Promise<void> {
  for (const halt of platform.onStop) halt();
  const services = Object.values(platform.services);
  await Promise.all(services.map((s) => s.stop()));
  await Promise.all(receivers.map((r) => r.close()));
  const logs = join(RESULTS_DIR, 'logs');
  mkdirSync(logs, { recursive: true });
  for (const s of services)
    writeFileSync(join(logs, `${platform.scenario.replace(/[^a-z0-9]+/gi, '-')}.${s.name}.log`), s.logs.join(''));
  await Promise.all(Object.values(platform.databases).map(dropDatabase));
  await deleteTopics(platform.kafka, [platform.topic, dlqTopicFor(platform.topic)]);
}

async function deleteTopics(kafka: Kafka, topics: string[]): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.disconnect();
}
