import { z } from 'zod';
import { EntityTypeSchema, UtcTimestamp } from './domain-event';

/**
 * The audit event: the same object in PostgreSQL, in the query API and in every streamed request
 * (the payload of the streaming documentation, field for field).
 */
export const AuditEventDetailsSchema = z
  .object({
    author_name: z.string(),
    target_id: z.number().int().nullable(),
    target_type: z.string(),
    target_details: z.string(),
    custom_message: z.string(),
    ip_address: z.string().nullable(),
    entity_path: z.string(),
  })
  .passthrough();

export const AuditEventSchema = z
  .object({
    id: z.string().uuid(),
    author_id: z.number().int(),
    entity_id: z.number().int(),
    entity_type: EntityTypeSchema,
    details: AuditEventDetailsSchema,
    ip_address: z.string().nullable(),
    author_name: z.string(),
    entity_path: z.string(),
    target_details: z.string(),
    created_at: UtcTimestamp,
    target_type: z.string(),
    target_id: z.number().int().nullable(),
    event_type: z.string().regex(/^[a-z][a-z0-9_]*$/),
  })
  .strict();

export type AuditEvent = z.infer<typeof AuditEventSchema>;
export type AuditEventDetails = z.infer<typeof AuditEventDetailsSchema>;
