import { z } from 'zod';
import { ValidationError } from '../errors/domain-errors';

/**
 * Parses untrusted input (body, query, params) with a zod schema; any failure is a 400 naming the
 * offending fields. Used at the HTTP edge instead of class-validator so the schemas stay plain data.
 */
export function parseInput<S extends z.ZodTypeAny>(schema: S, input: unknown, where = 'body'): z.infer<S> {
  const parsed = schema.safeParse(input ?? {});
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((issue) => {
    const unknownKeys = issue.code === 'unrecognized_keys' ? issue.keys.join(', ') : '';
    const path = issue.path.join('.');
    return {
      field: unknownKeys || path || where,
      message: issue.code === 'unrecognized_keys' ? 'is not a known field' : issue.message,
    };
  });
  throw new ValidationError(`Invalid ${where}: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`, fields);
}
