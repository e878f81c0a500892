import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { TEST_KAFKA_BROKERS } from './unique';
import { waitFor } from './wait-for';

/*
 * Stops and starts the local Kafka broker through the repository's own scripts, for tests of
 * what happens while Kafka is down. The scripts take their knobs (KAFKA_PORT, KAFKA_DATA_DIR...)
 * from the environment, which is passed through unchanged. kafka-start.sh returns once the broker
 * serves requests, kafka-stop.sh once the process is gone: no sleeps needed here.
 *
 * The broker is the one listening on KAFKA_PORT, whichever checkout started it: kafka-stop.sh finds
 * it by its port, and before stopping it stopKafka asks kafka-which.sh how it was started (its
 * checkout, data and log folders, controller port, heap), so that startKafka starts that same broker
 * again with that checkout's kafka-start.sh, not a new, empty one from this checkout.
 *
 * A cluster (env KAFKA_NODES=3: brokers on KAFKA_PORT, +2, +4, controllers one above each) starts and
 * stops whole through the same two functions. One node of it, for a test that loses a broker:
 * `killKafkaNode(port, env)` SIGKILLs it (the JVM whose pid is in `<KAFKA_DATA_DIR>/node-<id>/kafka.pid`,
 * id = (port - KAFKA_PORT) / 2 + 1; `kafkaNodeOf` gives both), `stopKafkaNode` shuts it down cleanly, and
 * `startKafkaNode(port, env)` starts it again and resolves once it serves requests. `env` is always the
 * cluster's own (the env it was started with), whichever node is meant.
 */

/** The workspace root: the nearest folder above this file that holds nx.json. */
export function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${__dirname}`);
  }
}

const ownScript = (name: string): string => join(repositoryRoot(), 'deploy', 'kafka-local', 'scripts', name);

function run(script: string, timeoutMs: number, env: NodeJS.ProcessEnv): Promise<string> {
  const name = script.split('/').pop();
  return new Promise((resolve, reject) => {
    execFile('bash', [script], { env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve(stdout);
    });
  });
}

/**
 * `env` with KAFKA_PORT set to the port of the broker the tests use: KAFKA_PORT if given (in `env`, else in
 * the environment), else the port of the first of KAFKA_BROKERS (TEST_KAFKA_BROKERS), else 9092.
 */
function withPort(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const fromBrokers = /:(\d+)$/.exec(TEST_KAFKA_BROKERS[0] ?? '')?.[1];
  return { ...env, KAFKA_PORT: env['KAFKA_PORT'] ?? process.env['KAFKA_PORT'] ?? fromBrokers ?? '9092' };
}

/** How the broker on a port was started (kafka-which.sh), or undefined if no broker listens there. */
async function describeBroker(env: NodeJS.ProcessEnv): Promise<Record<string, string> | undefined> {
  let out: string;
  try {
    out = await run(ownScript('kafka-which.sh'), 30_000, env);
  } catch {
    return undefined; // exit 1: no Kafka broker listens on the port
  }
  const knobs: Record<string, string> = {};
  for (const line of out.split('\n')) {
    const eq = line.indexOf('=');
    if (eq > 0) knobs[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return knobs;
}

/** The brokers stopped by stopKafka, by port: how to start each again. */
const stopped = new Map<string, { script: string; env: NodeJS.ProcessEnv }>();

/**
 * Stops the broker the tests use (see withPort: KAFKA_PORT, else the port of KAFKA_BROKERS, else 9092),
 * whichever checkout started it (controlled shutdown); resolves when its process has exited. `env` adds
 * knobs (KAFKA_PORT, KAFKA_DATA_DIR...) to address a broker other than the default one.
 */
export async function stopKafka(env: NodeJS.ProcessEnv = {}): Promise<void> {
  const knobs = withPort(env);
  const broker = await describeBroker(knobs);
  if (broker) {
    // KAFKA_NODE: a node of a cluster answered, but the whole cluster is stopped, and started again whole.
    const { KAFKA_PID: _pid, KAFKA_HOME: home, KAFKA_PID_FILE: _pidFile, KAFKA_NODE: _node, ...started } = broker;
    const theirs = home ? join(home, 'scripts', 'kafka-start.sh') : undefined;
    stopped.set(knobs['KAFKA_PORT'] as string, {
      script: theirs && existsSync(theirs) ? theirs : ownScript('kafka-start.sh'),
      // A cluster's own knobs win: its KAFKA_PORT is its first node's, whichever node's port was given.
      env: isCluster(started) ? { ...knobs, ...started } : { ...started, ...knobs },
    });
  }
  await run(ownScript('kafka-stop.sh'), 60_000, knobs);
}

/**
 * Starts the broker, or reuses a running one; resolves when it accepts requests. A broker that
 * stopKafka stopped is started again as it was (its checkout's script, data folder and knobs);
 * otherwise this checkout's. `env` as for stopKafka, and wins over the remembered knobs.
 */
export async function startKafka(env: NodeJS.ProcessEnv = {}): Promise<void> {
  const knobs = withPort(env);
  const previous = stopped.get(knobs['KAFKA_PORT'] as string);
  if (previous) {
    const { KAFKA_PORT: _port, ...given } = knobs;
    await run(
      previous.script,
      120_000,
      isCluster(previous.env) ? { ...previous.env, ...given } : { ...previous.env, ...knobs },
    );
  } else await run(ownScript('kafka-start.sh'), 120_000, knobs);
}

const isCluster = (env: NodeJS.ProcessEnv): boolean => Number(env['KAFKA_NODES'] ?? 1) > 1;

/** Node `port` of the cluster `cluster` (the env it was started with): its id and pid file. */
export function kafkaNodeOf(port: number, cluster: NodeJS.ProcessEnv): { id: number; pidFile: string } {
  const nodes = Number(cluster['KAFKA_NODES'] ?? 1);
  const first = Number(cluster['KAFKA_PORT'] ?? 9092);
  const id = (port - first) / 2 + 1;
  if (nodes < 2 || !Number.isInteger(id) || id < 1 || id > nodes) {
    throw new Error(`port ${port} is not a broker of the ${nodes}-node cluster on ${first}`);
  }
  const dataDir = cluster['KAFKA_DATA_DIR'] ?? join(repositoryRoot(), 'deploy', 'kafka-local', 'data');
  return { id, pidFile: join(dataDir, `node-${id}`, 'kafka.pid') };
}

const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/**
 * SIGKILLs node `port` of the cluster (no controlled shutdown: its partitions' leadership moves only once the
 * controller misses its heartbeats); resolves once the process is gone. Returns the pid it killed.
 */
export async function killKafkaNode(port: number, cluster: NodeJS.ProcessEnv): Promise<number> {
  const { pidFile } = kafkaNodeOf(port, cluster);
  const pid = Number(readFileSync(pidFile, 'utf8').trim());
  const command = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  if (!command.includes('kafka.Kafka')) throw new Error(`pid ${pid} of ${pidFile} is not a Kafka broker`);
  process.kill(pid, 'SIGKILL');
  await waitFor(`Kafka node on ${port} (pid ${pid}) to exit`, () => !isAlive(pid), {
    timeoutMs: 10_000,
    intervalMs: 50,
  });
  return pid;
}

/** Stops node `port` of the cluster cleanly (controlled shutdown); resolves once its process has exited. */
export async function stopKafkaNode(port: number, cluster: NodeJS.ProcessEnv): Promise<void> {
  const { id } = kafkaNodeOf(port, cluster);
  await run(ownScript('kafka-stop.sh'), 60_000, { ...cluster, KAFKA_NODE: String(id) });
}

/** Starts node `port` of the cluster again (killed or stopped); resolves once it serves requests. */
export async function startKafkaNode(port: number, cluster: NodeJS.ProcessEnv): Promise<void> {
  const { id } = kafkaNodeOf(port, cluster);
  await run(ownScript('kafka-start.sh'), 120_000, { ...cluster, KAFKA_NODE: String(id) });
}
