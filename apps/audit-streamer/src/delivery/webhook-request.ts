import { signWebhook } from './webhook-signature';

/** Header names the streamer sets itself; custom headers may not use them (lower case). */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set([
  'content-type',
  'x-gitlab-event-streaming-token',
  'x-gitlab-audit-event-type',
]);
export const RESERVED_HEADER_PREFIX = 'webhook-';

export interface WebhookInput {
  auditEventId: string;
  eventType: string;
  payload: unknown;
  verificationToken: string;
  /** The current secret first; during a rotation's grace period the previous one too (one signature each). */
  signingSecrets: readonly string[];
  customHeaders: ReadonlyArray<{ key: string; value: string }>;
  nowMs: number;
}

/**
 * The exact request of CONTRACTS.md ("a streamed request"). The payload is stored as `json` (its
 * text as mapped), so serialising it again keeps the contract's field order in every copy.
 */
export function buildWebhook(input: WebhookInput): { headers: Record<string, string>; body: string } {
  const body = JSON.stringify(input.payload);
  const timestamp = Math.floor(input.nowMs / 1000);
  const headers: Record<string, string> = {};
  for (const { key, value } of input.customHeaders) {
    const lower = key.toLowerCase();
    if (!RESERVED_HEADERS.has(lower) && !lower.startsWith(RESERVED_HEADER_PREFIX)) headers[key] = value;
  }
  return {
    body,
    headers: {
      ...headers,
      'Content-Type': 'application/json',
      'X-Gitlab-Event-Streaming-Token': input.verificationToken,
      'X-Gitlab-Audit-Event-Type': input.eventType,
      'webhook-id': input.auditEventId,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': input.signingSecrets.map((secret) => signWebhook(secret, input.auditEventId, timestamp, body)).join(' '),
    },
  };
}
