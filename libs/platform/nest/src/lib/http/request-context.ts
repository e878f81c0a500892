import { createParamDecorator, ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import ipaddr from 'ipaddr.js';
import { randomUUID } from 'node:crypto';
import { isTrustedProxy } from './trusted-proxies';

const CORRELATION_ID = /^[A-Za-z0-9._:-]{1,128}$/;

const normalise = (address: string | undefined): string | null => {
  if (!address) return null;
  try {
    const parsed = ipaddr.parse(address.trim());
    return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
      ? (parsed as ipaddr.IPv6).toIPv4Address().toString()
      : parsed.toString();
  } catch {
    return null;
  }
};

/**
 * The caller's IP. X-Forwarded-For is believed only hop by hop from trusted proxies: walking the
 * chain from the socket backwards, the first address that is not a trusted proxy is the client (what
 * Express's `req.ip` gives with the same list as `trust proxy`, except that a malformed hop ends the walk).
 */
export function clientIp(request: Pick<Request, 'headers' | 'socket'>, trustedProxies: string[]): string | null {
  let current = normalise(request.socket?.remoteAddress);
  if (!current) return null;
  const header = request.headers['x-forwarded-for'];
  const chain = (Array.isArray(header) ? header.join(',') : (header ?? ''))
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  while (trustedProxies.length > 0 && isTrustedProxy(current, trustedProxies) && chain.length > 0) {
    const previous = normalise(chain.pop());
    if (!previous) break;
    current = previous;
  }
  return current;
}

/** X-Correlation-Id when it is sane, else a new one: ties an audit trail to the request that caused it. */
export function correlationId(request: Pick<Request, 'headers'>): string {
  const header = request.headers['x-correlation-id'];
  return typeof header === 'string' && CORRELATION_ID.test(header) ? header : randomUUID();
}

/** The raw request, for the few handlers that need its headers or socket. */
export const Req = createParamDecorator((_: unknown, context: ExecutionContext): Request =>
  context.switchToHttp().getRequest<Request>(),
);
