/**
 * The bare baseline of the streamer benchmark, run as its own process (like the streamer, so the
 * receivers in the bench process do not share one thread with the sender): a tight undici loop,
 * one keep-alive Pool per receiver with `connections` requests in flight each, POSTing the same
 * requests the streamer sends (the audit event JSON of a ReleaseCreated, Content-Type, token and
 * event-type headers, webhook-id / webhook-timestamp / webhook-signature with an HMAC per request).
 * No database, no Kafka: what sending alone costs on this machine.
 *   BENCH_SENDER_CONFIG='{"urls":[...],"perReceiver":100000,"connections":16,"groupPath":"g"}' node -r @swc-node/register bench/support/streamer-sender.ts
 * Prints `start` when the bodies are built and it begins sending, then one JSON line with its figures.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { Pool } from 'undici';
import { toAuditEvents } from '../../libs/audit/mapping/src';
import { releaseCreatedEvent } from '../../libs/platform/testing/src/lib/fixtures';

export interface SenderConfig {
  urls: string[];
  perReceiver: number;
  connections: number;
  groupPath: string;
  projects: number;
}

export interface SenderResult {
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
      const { origin, pathname } = new URL(url);
      const pool = new Pool(origin, { connections: cfg.connections, pipelining: 1, keepAliveTimeout: 30_000 });
      let next = 0;
      const worker = async () => {
        while (next < bodies.length) {
          const { id, body } = bodies[next++];
          const timestamp = Math.floor(Date.now() / 1000);
          const signature = createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64');
          try {
            const res = await pool.request({
              method: 'POST',
              path: pathname,
              headers: {
                'Content-Type': 'application/json',
                'X-Gitlab-Event-Streaming-Token': token,
                'X-Gitlab-Audit-Event-Type': 'release_created',
                'webhook-id': id,
                'webhook-timestamp': String(timestamp),
                'webhook-signature': `v1,${signature}`,
              },
              body,
            });
            await res.body.dump();
            if (res.statusCode >= 200 && res.statusCode < 300) ok += 1;
            else throw new Error(`HTTP ${res.statusCode}`);
          } catch (err) {
            errors += 1;
            if (errorSamples.length < 5) errorSamples.push((err as Error).message);
          }
        }
      };
      await Promise.all(Array.from({ length: cfg.connections }, worker));
      await pool.close();
    }),
  );
  const elapsedS = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const result: SenderResult = {
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
