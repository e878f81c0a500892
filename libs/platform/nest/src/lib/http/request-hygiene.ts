import type { Request } from 'express';
import { isUtf8 } from 'node:buffer';
import { FieldProblem } from '../errors/domain-errors';

/*
 * What no endpoint accepts, checked once at the edge for every route rather than by each schema:
 * a body that is not JSON, a string PostgreSQL cannot store (NUL) or UTF-8 cannot encode (a lone
 * UTF-16 surrogate), JSON nested deeper than any of our documents. Without this, a NUL in a path
 * segment or a field reached the database and came back as a 500.
 */

/** Our deepest real document (a GraphQL request's variables) is 4 levels deep. */
export const MAX_JSON_DEPTH = 32;

const NUL_OR_LONE_SURROGATE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

export const hasUnstorableCharacters = (value: string): boolean => NUL_OR_LONE_SURROGATE.test(value);

const problemFor = (value: string): string =>
  value.includes('\u0000') ? 'must not contain NUL characters' : 'must be valid Unicode (no lone surrogates)';

/**
 * The fields of `input` (keys and string values, at any depth) that cannot be stored, named by their
 * path (`body.milestones.0`, `query.event_type`, `path.id`), and whether it is nested too deeply.
 * Iterative, so a hostile depth cannot overflow the stack.
 */
export function unstorableFields(input: unknown, where: string, maxProblems = 10): FieldProblem[] {
  const problems: FieldProblem[] = [];
  const stack: Array<{ value: unknown; path: string; depth: number }> = [{ value: input, path: where, depth: 0 }];
  while (stack.length > 0 && problems.length < maxProblems) {
    const { value, path, depth } = stack.pop()!;
    if (typeof value === 'string') {
      if (hasUnstorableCharacters(value)) problems.push({ field: path, message: problemFor(value) });
      continue;
    }
    if (typeof value !== 'object' || value === null) continue;
    if (depth >= MAX_JSON_DEPTH) {
      problems.push({ field: where, message: `is nested more than ${MAX_JSON_DEPTH} levels deep` });
      break;
    }
    for (const [key, child] of Object.entries(value)) {
      const childPath = `${path}.${key}`;
      if (hasUnstorableCharacters(key))
        problems.push({ field: `${path}.${JSON.stringify(key)}`, message: `key ${problemFor(key)}` });
      else stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return problems;
}

/** Whether the request carries a body at all (a length, or chunked), as body-parser decides it. */
const hasBody = (req: Pick<Request, 'headers'>): boolean =>
  req.headers['transfer-encoding'] !== undefined ||
  (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');

/** A body in anything but UTF-8 JSON: the one media type every route speaks. Null when acceptable. */
export function unsupportedBody(req: Pick<Request, 'headers'>): FieldProblem | null {
  if (!hasBody(req)) return null;
  const type = req.headers['content-type'];
  if (!type) return { field: 'Content-Type', message: 'is required with a body, and must be application/json' };
  const [media, ...parameters] = type
    .toLowerCase()
    .split(';')
    .map((s) => s.trim());
  if (media !== 'application/json' && !/^application\/[a-z0-9.+-]+\+json$/.test(media))
    return { field: 'Content-Type', message: `must be application/json, not ${media}` };
  const charset = parameters
    .find((p) => p.startsWith('charset='))
    ?.slice('charset='.length)
    .replace(/"/g, '');
  if (charset && charset !== 'utf-8' && charset !== 'utf8')
    return { field: 'Content-Type', message: `charset must be utf-8, not ${charset}` };
  return null;
}

/** body-parser's `verify` hook: a JSON body must be valid UTF-8, not silently "repaired" to U+FFFD. */
export function verifyUtf8(_req: unknown, _res: unknown, buffer: Buffer): void {
  if (!isUtf8(buffer))
    throw Object.assign(new Error('Request body is not valid UTF-8'), { status: 400, type: 'entity.verify.failed' });
}
