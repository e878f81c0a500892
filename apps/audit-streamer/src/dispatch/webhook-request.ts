import { isReservedHeader } from '../destinations/header-rules';
import { signWebhook } from './webhook-signature';

/**
 * One outgoing header as [name, value]. Requests carry a list of these, never an object keyed by
 * name: a custom key is user-chosen, and keys such as `__proto__` are valid header names but not
 * safe property names (assigning `__proto__` on a plain object sets its prototype, not a header).
 */
export type HeaderPair = readonly [name: string, value: string];

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
 * The exact request of docs/contracts.md ("a streamed request"). The payload is stored as `json` (its
 * text as mapped), so serialising it again keeps the contract's field order in every copy.
 */
export function buildWebhook(input: WebhookInput): { headers: HeaderPair[]; body: string } {
  const body = JSON.stringify(input.payload);
  const timestamp = Math.floor(input.nowMs / 1000);
  const custom = input.customHeaders
    .filter(({ key }) => !isReservedHeader(key))
    .map(({ key, value }): HeaderPair => [key, value]);
  return {
    body,
    headers: [
      ...custom,
      ['Content-Type', 'application/json'],
      ['X-Gitlab-Event-Streaming-Token', input.verificationToken],
      ['X-Gitlab-Audit-Event-Type', input.eventType],
      ['webhook-id', input.auditEventId],
      ['webhook-timestamp', String(timestamp)],
      [
        'webhook-signature',
        input.signingSecrets.map((secret) => signWebhook(secret, input.auditEventId, timestamp, body)).join(' '),
      ],
    ],
  };
}
