import { isoInstant } from '@audit/platform';
import { z } from 'zod';

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export type DeliveryStatus = (typeof DELIVERY_STATUSES)[number];

export const DeliveryLogQuerySchema = z
  .object({
    status: z.enum(DELIVERY_STATUSES).optional(),
    per_page: z.coerce.number().int().min(1).max(100).default(20),
    /** Keyset pagination, newest first: deliveries with a smaller id (from the Link rel="next" URL). */
    before_id: z.coerce.number().int().min(1).max(Number.MAX_SAFE_INTEGER).optional(),
  })
  .strict();
export type DeliveryLogQuery = z.infer<typeof DeliveryLogQuerySchema>;

export const ReplaySchema = z
  .object({
    since: isoInstant(),
  })
  .strict();
export type ReplayInput = z.infer<typeof ReplaySchema>;

export interface AttemptView {
  attempted_at: string;
  status_code: number | null;
  latency_ms: number;
  error: string | null;
}

export interface DeliveryLogView {
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
  attempt_log: AttemptView[];
}

/** Numeric path ids; anything else cannot name a row, so it is a 404 rather than a 400. */
export const isNumericId = (value: string): boolean => /^\d{1,15}$/.test(value);
