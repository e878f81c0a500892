import { z } from 'zod';

/** ISO 8601 UTC with milliseconds, as every timestamp on the wire is written. */
export const UtcTimestamp = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/, 'must be UTC ISO 8601 with milliseconds')
  .refine((value) => !Number.isNaN(Date.parse(value)), 'must be a real date');

/** `Instance` scopes what belongs to no group (e.g. an instance-wide export): entity_id 1, entity_path `instance`. */
export const EntityTypeSchema = z.enum(['Group', 'Project', 'Instance']);
export type EntityType = z.infer<typeof EntityTypeSchema>;

export const ActorSchema = z
  .object({
    id: z.number().int().nonnegative(),
    name: z.string().min(1).max(255),
    ip_address: z.string().max(45).nullable(),
  })
  .strict();
export type Actor = z.infer<typeof ActorSchema>;

export const ScopeSchema = z
  .object({
    entity_type: EntityTypeSchema,
    entity_id: z.number().int().positive(),
    entity_path: z.string().min(1).max(1024),
  })
  .strict();
export type Scope = z.infer<typeof ScopeSchema>;

export const AggregateRefSchema = z
  .object({
    type: z.string().min(1).max(64),
    id: z.string().min(1).max(64),
    version: z.number().int().positive(),
  })
  .strict();
export type AggregateRef = z.infer<typeof AggregateRefSchema>;

/** Builds the envelope schema of one domain event type around the schema of its `data`. */
export const envelopeOf = <T extends string, D extends z.ZodTypeAny>(type: T, data: D) =>
  z
    .object({
      id: z.string().uuid(),
      type: z.literal(type),
      schema_version: z.literal(1),
      occurred_at: UtcTimestamp,
      aggregate: AggregateRefSchema,
      actor: ActorSchema,
      scope: ScopeSchema,
      correlation_id: z.string().min(1).max(128),
      data,
    })
    .strict();

/** The metadata every event carries, without its type-specific `data`. */
export type EnvelopeMeta = Omit<z.infer<ReturnType<typeof envelopeOf>>, 'type' | 'data'>;
