/**
 * The bare loops of the streamer benchmark, each run as its own process (like the streamer, so the
 * receivers in the bench process do not share one thread with the sender): a tight loop with
 * `connections` requests in flight per receiver, POSTing the requests the streamer sends
 * (streamer-http.ts: same body and signed headers, keep-alive connections with the streamer's guarded
 * DNS lookup, same timeouts) through `client`: undici (the streamer's client) or axios (the other
 * candidate, so the choice rests on a figure from the same run). No database, no Kafka: what sending
 * alone costs on this machine with that client.
 *   BENCH_SENDER_CONFIG='{"client":"undici","urls":[...],"perReceiver":100000,"connections":32,"groupPath":"g","projects":30,"timeoutMs":10000,"allowedHosts":["127.0.0.1"]}' node -r @swc-node/register bench/support/streamer-sender.ts
 * Prints `start` when the bodies are built and it begins sending, then one JSON line with its figures.
 */
import { randomBytes } from 'node:crypto';
import { toAuditEvents } from '../../libs/audit/mapping/src';
import { releaseCreatedEvent } from '../../libs/platform/testing/src/lib/fixtures';
import { createPoster, HttpOptions, SenderClient, signedHeaders } from './streamer-http';

export interface SenderConfig extends HttpOptions {
  client: SenderClient;
  urls: string[];
  perReceiver: number;
  groupPath: string;
  projects: number;
}

export interface SenderResult {
  client: SenderClient;
  sent: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  elapsedS: number;
  cpuS: number;
}

async function main(): Promise<void> {
  const cfg = JSON.parse(process.env['BENCH_SENDER_CONFIG'] ?? '') as SenderConfig;
  // The same bodies for every receiver, as the streamer sends one audit event to each destination.
  const bodies: Array<{ id: string; body: string }> = [];
  for (let n = 1; n <= cfg.perReceiver; n++) {
    const projectId = (n % cfg.projects) + 1;
    const [event] = toAuditEvents(releaseCreatedEvent(10_000_000 + n, projectId, `${cfg.groupPath}/p${projectId}`));
    bodies.push({ id: event.id, body: JSON.stringify(event) });
  }
  const token = randomBytes(12).toString('hex');
  const secret = randomBytes(32);
  let ok = 0;
  let errors = 0;
  const errorSamples: string[] = [];
  process.stdout.write('start\n');
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await Promise.all(
    cfg.urls.map(async (url) => {
      const poster = createPoster(cfg.client, url, cfg);
      let next = 0;
      const worker = async () => {
        while (next < bodies.length) {
          const { id, body } = bodies[next++];
          const res = await poster.post(signedHeaders(secret, token, id, 'release_created', body), body);
          if (res.error === null) ok += 1;
          else {
            errors += 1;
            if (errorSamples.length < 5) errorSamples.push(res.error);
          }
        }
      };
      await Promise.all(Array.from({ length: cfg.connections }, worker));
      await poster.close();
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result: SenderResult = {
    client: cfg.client,
    sent: bodies.length * cfg.urls.length,
    ok,
    errors,
    errorSamples,
    elapsedS,
    cpuS: (cpu.user + cpu.system) / 1e6,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exitCode = 1;
});
