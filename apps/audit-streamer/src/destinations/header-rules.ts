import { isReservedHeader } from '../delivery/webhook-request';

/** Set by the HTTP client or meaningless on one request; a custom value would break the delivery. */
const TRANSPORT_HEADERS: ReadonlySet<string> = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'keep-alive',
  'upgrade',
  'expect',
  'te',
  'trailer',
]);

/** Why a custom header key cannot be used, or null when it can. */
export function reservedHeaderProblem(key: string): string | null {
  if (isReservedHeader(key)) return 'is set by the streamer and cannot be overridden';
  if (TRANSPORT_HEADERS.has(key.toLowerCase())) return 'is a transport header and cannot be set';
  return null;
}
