/**
 * The HTTP side shared by the streamer benchmark's bare senders (streamer-sender.ts, the bare loops;
 * streamer-durable.ts, the durable baseline): the request the streamer sends (docs/contracts.md, "a
 * streamed request": the audit event JSON, Content-Type, token and event-type headers, webhook-id /
 * webhook-timestamp / webhook-signature with an HMAC per request) and two clients to send it with,
 * configured as the streamer's WebhookSender configures undici: keep-alive connections whose DNS
 * lookup is the streamer's own guarded lookup (imported, not copied: internal addresses refused unless
 * on the allow list, here STREAMING_ALLOWED_HOSTS=127.0.0.1 as the bench gives the streamer), the
 * same connect/headers/body timeouts, an overall per-request timeout (AbortSignal.timeout), no redirects.
 * The receivers are addressed by IP (127.0.0.1), so, as in the streamer, the lookup is configured but
 * not called: what differs between the two clients is the client.
 */
import { createHmac } from 'node:crypto';
import { Agent as HttpAgent } from 'node:http';
import axios from 'axios';
import { Pool } from 'undici';
import { guardedLookup } from '../../apps/audit-streamer/src/dispatch/guarded-lookup';
import { parseAllowList } from '../../apps/audit-streamer/src/destinations/url-policy';

export type SenderClient = 'undici' | 'axios';

export interface HttpOptions {
  /** Requests in flight per receiver (= keep-alive connections to it). */
  connections: number;
  /** The streamer's DELIVERY_TIMEOUT_MS (default 10,000). */
  timeoutMs: number;
  /** The streamer's STREAMING_ALLOWED_HOSTS. */
  allowedHosts: string[];
}

export interface PostResult {
  statusCode: number | null;
  error: string | null;
}

/** POSTs one body with these headers to the receiver it was made for; never throws. */
export interface Poster {
  post(headers: Record<string, string>, body: string): Promise<PostResult>;
  close(): Promise<void>;
}

/** The streamed request's headers, signed as the streamer signs (one HMAC-SHA256 per request). */
export function signedHeaders(
  secret: Buffer,
  token: string,
  id: string,
  eventType: string,
  body: string,
): Record<string, string> {
  const timestamp = Math.floor(Date.now() / 1000);
  const signature = createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64');
  return {
    'Content-Type': 'application/json',
    'X-Gitlab-Event-Streaming-Token': token,
    'X-Gitlab-Audit-Event-Type': eventType,
    'webhook-id': id,
    'webhook-timestamp': String(timestamp),
    'webhook-signature': `v1,${signature}`,
  };
}

const describe = (err: unknown): string => {
  const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.cause?.code ?? e.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return (code ? `${code}: ${message}` : message).slice(0, 300);
};

/** undici as the streamer uses it: a keep-alive pool per receiver, guarded lookup, the same timeouts. */
function undiciPoster(url: string, o: HttpOptions): Poster {
  const { origin, pathname } = new URL(url);
  const pool = new Pool(origin, {
    connections: o.connections,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    connectTimeout: o.timeoutMs,
    connect: { lookup: guardedLookup(parseAllowList(o.allowedHosts)) },
  });
  return {
    async post(headers, body) {
      try {
        const res = await pool.request({
          method: 'POST',
          path: pathname,
          headers,
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        await res.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
        const ok = res.statusCode >= 200 && res.statusCode < 300;
        return { statusCode: res.statusCode, error: ok ? null : `HTTP ${res.statusCode}` };
      } catch (err) {
        return { statusCode: null, error: describe(err) };
      }
    },
    close: () => pool.close(),
  };
}

/**
 * axios on node:http: a keep-alive http.Agent per receiver (at most `connections` sockets, the
 * guarded lookup on its connections), `timeout` for the socket and AbortSignal.timeout for the whole
 * request, no redirects (maxRedirects 0 also keeps follow-redirects out of the path), no proxy from
 * the environment, every status answered (a non-2xx is an outcome, not an exception), the body sent
 * as the string it is.
 */
function axiosPoster(url: string, o: HttpOptions): Poster {
  const agent = new HttpAgent({
    keepAlive: true,
    keepAliveMsecs: 30_000,
    maxSockets: o.connections,
    lookup: guardedLookup(parseAllowList(o.allowedHosts)),
  });
  const client = axios.create({
    httpAgent: agent,
    timeout: o.timeoutMs,
    maxRedirects: 0,
    proxy: false,
    validateStatus: () => true,
    transformRequest: [(data: unknown) => data],
    responseType: 'text',
    transformResponse: [(data: unknown) => data],
  });
  return {
    async post(headers, body) {
      try {
        const res = await client.post(url, body, { headers, signal: AbortSignal.timeout(o.timeoutMs) });
        const ok = res.status >= 200 && res.status < 300;
        return { statusCode: res.status, error: ok ? null : `HTTP ${res.status}` };
      } catch (err) {
        return { statusCode: null, error: describe(err) };
      }
    },
    close: async () => agent.destroy(),
  };
}

export const createPoster = (client: SenderClient, url: string, o: HttpOptions): Poster =>
  client === 'axios' ? axiosPoster(url, o) : undiciPoster(url, o);
