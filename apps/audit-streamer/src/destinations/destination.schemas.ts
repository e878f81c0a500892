import { SINGLE_LINE_MESSAGE, SINGLE_LINE_TEXT } from '@audit/platform';
import { z } from 'zod';

/** RFC 9110 token characters: what a header name may contain (rules out CR/LF and spaces). */
const HEADER_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** What undici accepts in a header value: no CR, LF, NUL or other control characters. */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]+$/;

/** Seed 001: "Each streaming destination can have up to 20 custom HTTP headers". */
export const MAX_HEADERS_PER_DESTINATION = 20;

const destinationUrl = z.string().min(1).max(2048).regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE);
const destinationName = z.string().trim().min(1).max(72).regex(SINGLE_LINE_TEXT, SINGLE_LINE_MESSAGE);
const eventTypeFilters = z
  .array(z.string().regex(/^[a-z][a-z0-9_]{0,254}$/, 'must be audit event type names'))
  .max(100);
const headerKey = z
  .string()
  .min(1)
  .max(255)
  .regex(HEADER_NAME, 'must be a valid HTTP header name (no spaces or line breaks)');
const headerValue = z
  .string()
  .min(1)
  .max(255)
  .regex(HEADER_VALUE, 'must not contain line breaks or control characters');
const atLeastOne = (value: Record<string, unknown>) => Object.values(value).some((v) => v !== undefined);

export const CreateDestinationSchema = z
  .object({
    destination_url: destinationUrl,
    name: destinationName.optional(),
    event_type_filters: eventTypeFilters.optional(),
  })
  .strict();
export type CreateDestinationInput = z.infer<typeof CreateDestinationSchema>;

/** PATCH: any of these; `verification_token` and the signing secret are not changeable here. */
export const UpdateDestinationSchema = z
  .object({
    destination_url: destinationUrl.optional(),
    name: destinationName.optional(),
    event_type_filters: eventTypeFilters.optional(),
    active: z.boolean().optional(),
  })
  .strict()
  .refine(atLeastOne, { message: 'must change at least one of name, destination_url, event_type_filters, active' });
export type UpdateDestinationInput = z.infer<typeof UpdateDestinationSchema>;

export const CreateHeaderSchema = z.object({ key: headerKey, value: headerValue }).strict();
export type CreateHeaderInput = z.infer<typeof CreateHeaderSchema>;

/** PUT of a header: a new key, a new value, or both. */
export const UpdateHeaderSchema = z
  .object({ key: headerKey.optional(), value: headerValue.optional() })
  .strict()
  .refine(atLeastOne, { message: 'must change key, value or both' });
export type UpdateHeaderInput = z.infer<typeof UpdateHeaderSchema>;

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
  /** Shown to those who manage the destination, who are the only callers of these routes. */
  verification_token: string;
  event_type_filters: string[];
  active: boolean;
  deactivated_at: string | null;
  deactivated_reason: string | null;
  headers: HeaderView[];
  created_at: string;
  updated_at: string;
}

/** Only on creation and rotation is the signing secret shown; listings never carry it. */
export type DestinationWithSecretView = DestinationView & { signing_secret: string };

export interface RotatedSecretView {
  signing_secret: string;
  /** Until then the previous secret signs too (a second `v1,` signature in `webhook-signature`). */
  previous_secret_expires_at: string;
}
