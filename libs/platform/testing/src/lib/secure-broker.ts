import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repositoryRoot, startKafka } from './broker';

/**
 * A broker that demands what a managed Kafka does: a SASL_SSL listener (SCRAM-SHA-512, a certificate of a CA
 * made for the occasion), for tests of the services' TLS and SASL settings. It is the test's own: free ports, a
 * folder under the OS's tmp, the jars kafka-start.sh fetched (deploy/kafka-local/lib), launched as a child
 * process and killed by stop(), never the shared broker on 9092.
 */
export interface SecureBroker {
  /** The SASL_SSL listener, `127.0.0.1:<port>`. */
  brokers: string[];
  /** PEM of the CA that signed the broker's certificate (for 127.0.0.1 and localhost). */
  caFile: string;
  mechanism: 'scram-sha-512';
  username: string;
  password: string;
  /** The broker's folder, removed by stop(): room for a test's own files (a password file). */
  dir: string;
  /** Kills the broker and removes its folder; safe to call twice. */
  stop(): Promise<void>;
}

const START_TIMEOUT_MS = 45_000;
const STOP_TIMEOUT_MS = 10_000;

export async function startSecureBroker(): Promise<SecureBroker> {
  const root = repositoryRoot();
  const lib = join(root, 'deploy', 'kafka-local', 'lib');
  if (!existsSync(join(lib, '.complete'))) await startKafka(); // fetches the jars; reuses a running broker
  const dir = mkdtempSync(join(tmpdir(), 'audit-secure-kafka-'));
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child) await kill(child);
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await makeCertificates(dir);
    const [port, controllerPort] = await freePorts(2);
    const username = 'audit';
    const password = randomBytes(12).toString('hex');
    const brokerPassword = randomBytes(12).toString('hex');
    const props = join(dir, 'server.properties');
    writeFileSync(props, properties({ dir, port, controllerPort, brokerPassword }));

    const jvm = [
      '-cp',
      `${lib}/*`,
      `-Dlog4j.configuration=file:${join(root, 'deploy', 'kafka-local', 'log4j.properties')}`,
      `-Dkafka.logs.dir=${join(dir, 'logs')}`,
    ];
    const clusterId = kafkaClusterId();
    await run('java', [
      ...jvm,
      'kafka.tools.StorageTool',
      'format',
      `--cluster-id=${clusterId}`,
      '-c',
      props,
      '--add-scram',
      `SCRAM-SHA-512=[name=broker,password=${brokerPassword}]`,
      '--add-scram',
      `SCRAM-SHA-512=[name=${username},password=${password}]`,
    ]);

    const out = join(dir, 'kafka.out');
    const fd = openSync(out, 'w');
    // Small heap, serial GC, C1 only: as kafka-start.sh runs the shared broker on this 2-core machine.
    const flags = [
      '-Xms128m',
      '-Xmx256m',
      '-XX:+UseSerialGC',
      '-XX:TieredStopAtLevel=1',
      '-XX:+ExitOnOutOfMemoryError',
    ];
    child = spawn('java', [...flags, ...jvm, 'kafka.Kafka', props], { stdio: ['ignore', fd, fd] });
    closeSync(fd);
    const running = child;
    // A test runner that exits without its afterAll (a crash, Ctrl-C) must not leave the broker behind.
    const onExit = () => running.kill('SIGKILL');
    process.once('exit', onExit);
    running.once('exit', () => process.removeListener('exit', onExit));

    await waitUntilStarted(running, out);
    return {
      brokers: [`127.0.0.1:${port}`],
      caFile: join(dir, 'ca.pem'),
      mechanism: 'scram-sha-512',
      username,
      password,
      dir,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

function properties(o: { dir: string; port: number; controllerPort: number; brokerPassword: string }): string {
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${o.controllerPort}`,
    `listeners=SASL_SSL://127.0.0.1:${o.port},CONTROLLER://127.0.0.1:${o.controllerPort}`,
    `advertised.listeners=SASL_SSL://127.0.0.1:${o.port}`,
    'listener.security.protocol.map=SASL_SSL:SASL_SSL,CONTROLLER:PLAINTEXT',
    'controller.listener.names=CONTROLLER',
    // The broker is a client of its own listener too: it authenticates as `broker` and checks the CA.
    'inter.broker.listener.name=SASL_SSL',
    'sasl.enabled.mechanisms=SCRAM-SHA-512',
    'sasl.mechanism.inter.broker.protocol=SCRAM-SHA-512',
    'listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule' +
      ` required username="broker" password="${o.brokerPassword}";`,
    'ssl.keystore.type=PEM',
    `ssl.keystore.location=${join(o.dir, 'keystore.pem')}`,
    'ssl.truststore.type=PEM',
    `ssl.truststore.location=${join(o.dir, 'ca.pem')}`,
    `log.dirs=${join(o.dir, 'data')}`,
    'auto.create.topics.enable=false',
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=1',
    'group.initial.rebalance.delay.ms=0',
    'num.network.threads=1',
    'num.io.threads=2',
    '',
  ].join('\n');
}

/** A CA, and a key and certificate for 127.0.0.1 and localhost signed by it; the broker reads them as PEM. */
async function makeCertificates(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const openssl = (args: string[]) => run('openssl', args, dir);
  await openssl([
    'req',
    '-x509',
    ...ec,
    '-keyout',
    'ca.key',
    '-out',
    'ca.pem',
    '-days',
    '2',
    '-subj',
    '/CN=audit-test-ca',
  ]);
  await openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  writeFileSync(join(dir, 'server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await openssl([
    'x509',
    '-req',
    '-in',
    'server.csr',
    '-CA',
    'ca.pem',
    '-CAkey',
    'ca.key',
    '-CAcreateserial',
    '-days',
    '2',
    '-extfile',
    'server.ext',
    '-out',
    'server.pem',
  ]);
  const key = readFileSync(join(dir, 'server.key'), 'utf8');
  writeFileSync(join(dir, 'keystore.pem'), key + readFileSync(join(dir, 'server.pem'), 'utf8'));
  mkdirSync(join(dir, 'logs'));
}

function run(command: string, args: string[], cwd?: string): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(command, args, { cwd, timeout: 60_000 }, (err, stdout, stderr) => {
      if ((err as NodeJS.ErrnoException | null)?.code === 'ENOENT') {
        reject(
          new Error(`${command} is not installed (needed by the secure-broker tests: apt-get install ${command})`),
        );
      } else if (err) reject(new Error(`${command} ${args[0]} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/** Ports free right now (the OS's ephemeral range), held open together so that they differ. */
async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<ReturnType<typeof createServer>>((resolve, reject) => {
          const server = createServer();
          server.once('error', reject);
          server.listen(0, '127.0.0.1', () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((s) => (s.address() as { port: number }).port);
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  return ports;
}

/** Not waitFor: a broker that exited must fail the start at once, not at the deadline. */
async function waitUntilStarted(child: ChildProcess, out: string): Promise<void> {
  const deadline = Date.now() + START_TIMEOUT_MS;
  const tail = () => readFileSync(out, 'utf8').split('\n').slice(-40).join('\n');
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`the secure broker exited during startup (${child.exitCode ?? child.signalCode}):\n${tail()}`);
    }
    if (readFileSync(out, 'utf8').includes('Kafka Server started')) return;
    if (Date.now() > deadline)
      throw new Error(`the secure broker did not start within ${START_TIMEOUT_MS} ms:\n${tail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** SIGTERM (a controlled shutdown), SIGKILL if it is not gone within STOP_TIMEOUT_MS. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), STOP_TIMEOUT_MS)));
  if ((await Promise.race([exited, late])) === 'late') {
    child.kill('SIGKILL');
    await exited;
  }
  clearTimeout(timer);
}

/**
 * What `kafka-storage random-uuid` prints, without a JVM: 16 random bytes in base64url. Like Kafka's own
 * Uuid.randomUuid, it never starts with '-': the tool's argument parser reads such a value as an option
 * (one run in 64 failed that way).
 */
export function kafkaClusterId(): string {
  for (;;) {
    const id = randomBytes(16).toString('base64url');
    if (!id.startsWith('-')) return id;
  }
}
