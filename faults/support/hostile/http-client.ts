import { Agent, request } from 'node:http';

/** One hostile request, exactly as sent: a raw path (no client-side normalisation) and raw body bytes. */
export interface HostileRequest {
  service: string;
  method: string;
  /** The OpenAPI path template it targets, for the report. */
  route: string;
  path: string;
  label: string;
  headers: Record<string, string>;
  body?: Buffer;
  /** 'reject': must be a 4xx; 'any': may be accepted (then its side effects are accounted for). */
  expect: 'reject' | 'any';
  correlationId: string;
}

export interface HostileResponse {
  status: number;
  contentType: string;
  body: string;
  error?: string;
}

// One connection per request: with keep-alive, a server closing an idle connection just as the
// next request goes out on it ("socket hang up") looked like a service that did not answer.
const agent = new Agent({ keepAlive: false, maxSockets: 8 });

/** Sends the request with node:http, so paths like `/a/../b` and bodies without a Content-Type go out as they are. */
export function send(baseUrl: string, req: HostileRequest, timeoutMs = 60_000): Promise<HostileResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string | number> = { ...req.headers, 'X-Correlation-Id': req.correlationId };
  if (req.body) headers['Content-Length'] = req.body.length;
  return new Promise((resolve) => {
    // The answer's head, once it came: a server that refuses a large body answers, then closes
    // while the client is still writing (EPIPE); that is an answer, not silence.
    let answered: { status: number; contentType: string; chunks: Buffer[] } | undefined;
    const r = request({ agent, host: url.hostname, port: url.port, method: req.method, path: req.path, headers, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      answered = { status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), chunks };
      let size = 0;
      res.on('data', (c: Buffer) => {
        // Keep a sample only: a CSV export or a listing may be large.
        if (size < 4096) chunks.push(c);
        size += c.length;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: Buffer.concat(chunks).toString('utf8').slice(0, 4096) }));
      res.on('error', (err) => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers['content-type'] ?? ''), body: '', error: err.message }));
    });
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('error', (err) => {
      if (answered) resolve({ status: answered.status, contentType: answered.contentType, body: Buffer.concat(answered.chunks).toString('utf8').slice(0, 4096) });
      else resolve({ status: 0, contentType: '', body: '', error: err.message });
    });
    r.end(req.body);
  });
}

export function closeClient(): void {
  agent.destroy();
}

/** Runs `items` through `worker` with at most `limit` in flight, preserving order of results. */
export async function inParallel<T, R>(items: T[], limit: number, worker: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await worker(items[index]);
    }
  });
  await Promise.all(lanes);
  return results;
}
