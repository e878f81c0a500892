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

/**
 * Names, titles and URLs are one line: no CR/LF (header and log injection, broken CSV rows and
 * SIEM records) and no other C0/C1 control character. As a regex, so /docs shows it as a pattern.
 */
export const SINGLE_LINE_TEXT = /^[^\u0000-\u001f\u007f-\u009f]*$/;
export const SINGLE_LINE_MESSAGE = 'must be a single line without control characters';

/** Free text (descriptions) may have line breaks and tabs, but no other control character. */
export const MULTI_LINE_TEXT = /^[^\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f]*$/;
export const MULTI_LINE_MESSAGE = 'must not contain control characters other than line breaks and tabs';
