/*
 * The one list of header names a destination's custom headers may not use. Both the API's
 * validation (reservedHeaderProblem) and the request the worker builds (dispatch/webhook-request.ts,
 * which drops reserved ones) read it, so rows stored before a rule existed are still never sent.
 */

/**
 * Header names of the platform (README: custom headers): what the streamer sets itself, and whole
 * prefixes so that a header it adds later never meets a custom one of the same name.
 */
const RESERVED_HEADER_NAMES: ReadonlySet<string> = new Set(['content-type']);
const RESERVED_HEADER_PREFIXES: readonly string[] = ['x-gitlab-', 'webhook-'];

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

/** A header name the streamer sets itself (case-insensitive, as HTTP header names are). */
export function isReservedHeader(name: string): boolean {
  const lower = name.toLowerCase();
  return RESERVED_HEADER_NAMES.has(lower) || RESERVED_HEADER_PREFIXES.some((prefix) => lower.startsWith(prefix));
}

/** Why a custom header key cannot be used, or null when it can. */
export function reservedHeaderProblem(key: string): string | null {
  if (isReservedHeader(key)) return 'is set by the streamer and cannot be overridden';
  if (TRANSPORT_HEADERS.has(key.toLowerCase())) return 'is a transport header and cannot be set';
  return null;
}
