import { Inject, Injectable, OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG } from '@audit/platform';
import { Agent, request } from 'undici';
import { AuditStreamerConfig } from '../config';
import { parseAllowList } from '../destinations/url-policy';
import { guardedLookup } from './guarded-lookup';
import type { HeaderPair } from './webhook-request';

export interface OutgoingRequest {
  url: string;
  headers: readonly HeaderPair[];
  body: string;
}

export interface SendResult {
  statusCode: number | null;
  latencyMs: number;
  /** Raw Retry-After header of a non-2xx answer. */
  retryAfter?: string | string[];
  error: string | null;
}

const MAX_ERROR_LENGTH = 500;

/**
 * Sends one webhook POST over a keep-alive pool. Never throws: network errors and timeouts come
 * back as a result with `error`, so the caller always has something to record. Redirects are not
 * followed (a 3xx is a failure), which keeps the SSRF check meaningful.
 */
@Injectable()
export class WebhookSender implements OnApplicationShutdown {
  private readonly agent: Agent;
  private readonly timeoutMs: number;

  constructor(@Inject(APP_CONFIG) config: AuditStreamerConfig) {
    this.timeoutMs = config.DELIVERY_TIMEOUT_MS;
    this.agent = new Agent({
      keepAliveTimeout: 30_000,
      headersTimeout: config.DELIVERY_TIMEOUT_MS,
      bodyTimeout: config.DELIVERY_TIMEOUT_MS,
      connectTimeout: config.DELIVERY_TIMEOUT_MS,
      connect: { lookup: guardedLookup(parseAllowList(config.STREAMING_ALLOWED_HOSTS)) },
    });
  }

  async send(outgoing: OutgoingRequest): Promise<SendResult> {
    const started = performance.now();
    const latency = () => Math.round(performance.now() - started);
    try {
      const response = await request(outgoing.url, {
        method: 'POST',
        // Flat name, value, name, value…: undici reads any Array that way (an Array of pairs is
        // refused at run time although its types admit it), and never turns names into properties.
        headers: outgoing.headers.flat(),
        body: outgoing.body,
        dispatcher: this.agent,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
      await response.body.dump({ limit: 64 * 1024 }).catch(() => undefined);
      const ok = response.statusCode >= 200 && response.statusCode < 300;
      return {
        statusCode: response.statusCode,
        latencyMs: latency(),
        retryAfter: ok ? undefined : response.headers['retry-after'],
        error: ok ? null : `HTTP ${response.statusCode}`,
      };
    } catch (err) {
      return { statusCode: null, latencyMs: latency(), error: describeError(err) };
    }
  }

  /** After the worker stopped: closes idle sockets; waits for none in flight. */
  async onApplicationShutdown(): Promise<void> {
    await this.agent.close();
  }
}

function describeError(err: unknown): string {
  const error = err as { name?: string; message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = error.cause?.code ?? error.code;
  const message = error.cause?.message ?? error.message ?? String(err);
  return (code ? `${code}: ${message}` : `${error.name ?? 'Error'}: ${message}`).slice(0, MAX_ERROR_LENGTH);
}
