import { ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait-for';

/*
 * A real Prometheus server for integration tests: its own configuration and storage in a temporary folder,
 * listening on 127.0.0.1 on a free port (never the 9090 of a Prometheus the machine may run), scraping the
 * given targets. The binary is Debian's package `prometheus` (scripts/lib.sh, ensure_prometheus).
 *
 * Ready (`/-/ready`) is not scraped yet: the first scrape comes about 5 s after the start, because Prometheus
 * hands discovered targets to its scrapers in 5 s batches. Wait for the series with waitFor.
 */

/** One series of an instant query's vector result: its labels and [unix time in seconds, value as text]. */
export interface PrometheusSample {
  metric: Record<string, string>;
  value: [number, string];
}

export interface RunningPrometheus {
  /** http://127.0.0.1:<port> */
  url: string;
  /** An instant query (`/api/v1/query`) whose result is a vector. */
  query(expr: string): Promise<PrometheusSample[]>;
  /** Stops the server and removes its configuration and storage. */
  stop(): Promise<void>;
}

export interface PrometheusOptions {
  /** Job name → targets (`host:port`), scraped at `/metrics`. */
  scrapeTargets: Record<string, string[]>;
  /** Scrape and rule evaluation interval, 1 s by default (Prometheus's own default is a minute). */
  scrapeIntervalSeconds?: number;
  /** Rule files (absolute paths) Prometheus loads and evaluates at every interval: the alerts of deploy/prometheus. */
  ruleFiles?: string[];
  /** How long to wait for `/-/ready`. */
  readyTimeoutMs?: number;
}

const STOP_TIMEOUT_MS = 10_000;

function prometheusBinary(): string {
  // Debian installs it here; elsewhere rely on PATH (spawn reports ENOENT if it is not there either).
  return existsSync('/usr/bin/prometheus') ? '/usr/bin/prometheus' : 'prometheus';
}

/** A port the kernel just handed out and released; Prometheus binds it a moment later (see the retry below). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function exited(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    else child.once('exit', () => resolve());
  });
}

export async function startPrometheus(options: PrometheusOptions): Promise<RunningPrometheus> {
  const interval = options.scrapeIntervalSeconds ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'prometheus-test-'));
  const configFile = join(dir, 'prometheus.yml');
  const config = {
    global: {
      scrape_interval: `${interval}s`,
      evaluation_interval: `${interval}s`,
      // The timeout may not exceed the interval (10 s by default, more than a 1 s interval).
      scrape_timeout: `${Math.min(interval, 10)}s`,
    },
    rule_files: options.ruleFiles ?? [],
    scrape_configs: Object.entries(options.scrapeTargets).map(([job, targets]) => ({
      job_name: job,
      metrics_path: '/metrics',
      static_configs: [{ targets }],
    })),
  };
  // JSON is YAML.
  writeFileSync(configFile, JSON.stringify(config, null, 2));

  // The port is free when chosen but could be taken before Prometheus binds it: try again on another.
  let lastError: Error | undefined;
  for (let attempt = 0; attempt < 3; attempt += 1) {
    const port = await freePort();
    try {
      return await launch(dir, configFile, port, options.readyTimeoutMs ?? 30_000);
    } catch (err) {
      lastError = err as Error;
      if (!/address already in use/.test(lastError.message)) break;
    }
  }
  rmSync(dir, { recursive: true, force: true });
  throw lastError ?? new Error('Prometheus did not start');
}

async function launch(
  dir: string,
  configFile: string,
  port: number,
  readyTimeoutMs: number,
): Promise<RunningPrometheus> {
  const url = `http://127.0.0.1:${port}`;
  const storage = join(dir, `data-${port}`);
  const child = spawn(
    prometheusBinary(),
    [
      `--config.file=${configFile}`,
      `--web.listen-address=127.0.0.1:${port}`,
      `--storage.tsdb.path=${storage}`,
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4_000); // the tail, for the error message
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  // Fails the start at once when the binary is missing or the server exits (a bad flag, a taken port).
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err) =>
      reject(
        new Error(
          `cannot run ${prometheusBinary()} (${err.message}); install it: bash -c 'source scripts/lib.sh && ensure_prometheus'`,
        ),
      ),
    );
    child.once('exit', (code, signal) =>
      reject(new Error(`Prometheus exited (${code ?? signal}) before it was ready`)),
    );
  });
  failed.catch(() => undefined); // once ready, an exit is stop()'s business, not an unhandled rejection

  const stop = async () => {
    if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      // A clean shutdown flushes the head block; a server that does not exit in time is killed.
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      await exited(child);
      clearTimeout(timer);
    }
    rmSync(storage, { recursive: true, force: true });
  };

  try {
    await Promise.race([
      failed,
      waitFor(
        `Prometheus ready at ${url}/-/ready`,
        async () => (await fetch(`${url}/-/ready`).catch(() => undefined))?.status === 200,
        { timeoutMs: readyTimeoutMs, intervalMs: 50 },
      ),
    ]);
  } catch (err) {
    await stop();
    throw new Error(`${(err as Error).message}\n${output}`);
  }
  return {
    url,
    async query(expr: string): Promise<PrometheusSample[]> {
      const res = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: expr }).toString()}`);
      const body = (await res.json()) as {
        status: string;
        error?: string;
        data?: { resultType: string; result: PrometheusSample[] };
      };
      if (body.status !== 'success' || !body.data) throw new Error(`query ${expr} failed: ${body.error ?? res.status}`);
      if (body.data.resultType !== 'vector')
        throw new Error(`query ${expr} returned a ${body.data.resultType}, not a vector`);
      return body.data.result;
    },
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
