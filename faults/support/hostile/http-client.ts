import { Agent, IncomingHttpHeaders, request } from 'node:http';

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
  /** A class's own condition on the answer (judge.ts runs it after the common ones): why it fails, or undefined. */
  check?: (response: HostileResponse) => string | undefined;
}

export interface HostileResponse {
  status: number;
  contentType: string;
  body: string;
  /** The response's headers (lower-case names), for the checks of what a response may carry (Link, Location). */
  headers: Record<string, string>;
  error?: string;
}

export interface SendOptions {
  timeoutMs?: number;
  /** Called once the whole request (head and body) is written: it is the server's now. */
  onSent?: () => void;
  /** Another agent than the shared one (at most 8 sockets), for requests that must all be in flight at once. */
  agent?: Agent;
  /** How much of the body to keep (4 KiB: a sample; a check that parses a whole answer asks for more). */
  keepBytes?: number;
}

// One connection per request: with keep-alive, a server closing an idle connection just as the
// next request goes out on it ("socket hang up") looked like a service that did not answer.
const agent = new Agent({ keepAlive: false, maxSockets: 8 });

const headersOf = (raw: IncomingHttpHeaders): Record<string, string> =>
  Object.fromEntries(
    Object.entries(raw).map(([name, value]) => [name, Array.isArray(value) ? value.join(', ') : String(value ?? '')]),
  );

/**
 * Sends the request with node:http, so paths like `/a/../b` and bodies without a Content-Type go out
 * as they are. A `Host` among the request's headers is sent verbatim (even empty) instead of the
 * client's own.
 */
export function send(
  baseUrl: string,
  req: HostileRequest,
  { timeoutMs = 60_000, onSent, agent: own, keepBytes = 4096 }: SendOptions = {},
): Promise<HostileResponse> {
  const url = new URL(baseUrl);
  const headers: Record<string, string | number> = { ...req.headers, 'X-Correlation-Id': req.correlationId };
  if (req.body) headers['Content-Length'] = req.body.length;
  const setHost = !Object.keys(req.headers).some((name) => name.toLowerCase() === 'host');
  return new Promise((resolve) => {
    // The answer's head, once it came: a server that refuses a large body answers, then closes
    // while the client is still writing (EPIPE); that is an answer, not silence.
    let answered:
      { status: number; contentType: string; headers: Record<string, string>; chunks: Buffer[] } | undefined;
    const r = request(
      {
        agent: own ?? agent,
        host: url.hostname,
        port: url.port,
        method: req.method,
        path: req.path,
        headers,
        setHost,
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        const head = {
          status: res.statusCode ?? 0,
          contentType: String(res.headers['content-type'] ?? ''),
          headers: headersOf(res.headers),
        };
        answered = { ...head, chunks };
        let size = 0;
        res.on('data', (c: Buffer) => {
          // Keep a sample only: a CSV export or a listing may be large.
          if (size < keepBytes) chunks.push(c);
          size += c.length;
        });
        res.on('end', () => resolve({ ...head, body: Buffer.concat(chunks).toString('utf8').slice(0, keepBytes) }));
        res.on('error', (err) => resolve({ ...head, body: '', error: err.message }));
      },
    );
    r.on('timeout', () => r.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    r.on('finish', () => onSent?.());
    r.on('error', (err) => {
      if (answered)
        resolve({
          status: answered.status,
          contentType: answered.contentType,
          headers: answered.headers,
          body: Buffer.concat(answered.chunks).toString('utf8').slice(0, keepBytes),
        });
      else resolve({ status: 0, contentType: '', headers: {}, body: '', error: err.message });
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
