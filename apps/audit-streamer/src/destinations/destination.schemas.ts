import { z } from 'zod';

/** RFC 9110 token characters: what a header name may contain (rules out CR/LF and spaces). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What undici accepts in a header value: no CR, LF, NUL or other control characters. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

export const MAX_DESTINATIONS_PER_GROUP = 5;
export const MAX_HEADERS_PER_DESTINATION = 20;

export const CreateDestinationSchema = z
  .object({
    destination_url: z.string().min(1).max(2048),
    name: z.string().trim().min(1).max(72).optional(),
    event_type_filters: z.array(z.string().regex(/^[a-z][a-z0-9_]{0,254}$/, 'must be audit event type names')).max(100).optional(),
  })
  .strict();
export type CreateDestinationInput = z.infer<typeof CreateDestinationSchema>;

export const CreateHeaderSchema = z
  .object({
    key: z.string().min(1).max(255).regex(HEADER_NAME, 'must be a valid HTTP header name (no spaces or line breaks)'),
    value: z.string().min(1).max(255).regex(HEADER_VALUE, 'must not contain line breaks or control characters'),
  })
  .strict();
export type CreateHeaderInput = z.infer<typeof CreateHeaderSchema>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const DeliveriesQuerySchema = z
  .object({
    status: z.enum(DELIVERY_STATUSES).optional(),
    per_page: z.coerce.number().int().min(1).max(100).default(20),
  })
  .strict();
export type DeliveriesQuery = z.infer<typeof DeliveriesQuerySchema>;

/** Numeric path ids; anything else cannot name a row, so it is a 404 rather than a 400. */
export const isNumericId = (value: string): boolean => /^\d{1,15}$/.test(value);

export interface HeaderView {
  id: number;
  key: string;
  value: string;
}

export interface DestinationView {
  id: number;
  name: string;
  destination_url: string;
  verification_token: string;
  event_type_filters: string[];
  active: boolean;
  headers: HeaderView[];
  created_at: string;
}

export interface DeliveryView {
  id: number;
  audit_event_id: string;
  event_type: string;
  status: DeliveryStatus;
  attempts: number;
  next_attempt_at: string | null;
  last_status_code: number | null;
  last_error: string | null;
  created_at: string;
  delivered_at: string | null;
  attempt_log: Array<{ attempted_at: string; status_code: number | null; latency_ms: number; error: string | null }>;
}
