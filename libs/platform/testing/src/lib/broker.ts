import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/*
 * Stops and starts the local Kafka broker through the repository's own scripts, for tests of
 * what happens while Kafka is down. The scripts take their knobs (KAFKA_PORT, KAFKA_DATA_DIR...)
 * from the environment, which is passed through unchanged. kafka-start.sh returns once the broker
 * serves requests, kafka-stop.sh once the process is gone: no sleeps needed here.
 */

/** The workspace root: the nearest folder above this file that holds nx.json. */
function repositoryRoot(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'nx.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no nx.json above ${__dirname}`);
  }
}

function runScript(name: 'kafka-start.sh' | 'kafka-stop.sh', timeoutMs: number, env: NodeJS.ProcessEnv): Promise<void> {
  const script = join(repositoryRoot(), 'deploy', 'kafka-local', 'scripts', name);
  return new Promise((resolve, reject) => {
    execFile('bash', [script], { env: { ...process.env, ...env }, timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${name} failed: ${err.message}\n${stdout}${stderr}`));
      else resolve();
    });
  });
}

/**
 * Stops the broker (controlled shutdown); resolves when its process has exited. `env` adds knobs
 * (KAFKA_PORT, KAFKA_DATA_DIR...) to address a broker other than the default one.
 */
export const stopKafka = (env: NodeJS.ProcessEnv = {}): Promise<void> => runScript('kafka-stop.sh', 60_000, env);

/** Starts the broker, or reuses a running one; resolves when it accepts requests. `env` as for stopKafka. */
export const startKafka = (env: NodeJS.ProcessEnv = {}): Promise<void> => runScript('kafka-start.sh', 120_000, env);
