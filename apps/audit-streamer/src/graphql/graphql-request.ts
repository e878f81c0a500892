import type { Request } from 'express';

/*
 * The HTTP side of GraphQL-over-HTTP that this endpoint accepts: POST only (a mutation over GET is a
 * CSRF risk, and a GET query would put tokens and ids in access logs), a JSON body only (a form or
 * text/plain body is what a cross-site form can send without a preflight), and a small one.
 */

/** A query of this schema is a few hundred bytes; 64 KiB leaves room for any real one and its variables. */
export const MAX_GRAPHQL_BODY_BYTES = 64 * 1024;

/**
 * Bounds the parser's work before validation can refuse anything; GraphiQL's introspection query has
 * ~190 tokens. Whitespace and comments are not tokens: query-limits.ts bounds lines and selections
 * again before validation, where graphql-js's work grows faster than the document.
 */
export const MAX_TOKENS = 2000;

export interface GraphqlRequest {
  query: string;
  variables: Record<string, unknown> | undefined;
  operationName: string | undefined;
}

/** An HTTP-level refusal: status and the message of the single GraphQL error of the answer. */
export interface RequestRefusal {
  status: number;
  code: string;
  message: string;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** Content type and size, checked before authentication: cheap, and the same answer for everyone. */
export function checkTransport(req: Pick<Request, 'headers' | 'is'>): RequestRefusal | null {
  if (!req.is('application/json')) {
    return {
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      message: 'A GraphQL request must be a POST with Content-Type: application/json',
    };
  }
  const length = Number(req.headers['content-length'] ?? 0);
  if (length > MAX_GRAPHQL_BODY_BYTES) {
    return {
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: `A GraphQL request may have at most ${MAX_GRAPHQL_BODY_BYTES} bytes`,
    };
  }
  return null;
}

/** `{query, variables?, operationName?}`, or why not (a 400). */
export function readGraphqlBody(body: unknown): GraphqlRequest | RequestRefusal {
  const bad = (message: string): RequestRefusal => ({ status: 400, code: 'BAD_REQUEST', message });
  if (!isObject(body)) return bad('The body must be a JSON object with a "query"');
  const { query, variables, operationName } = body;
  if (typeof query !== 'string' || query.trim() === '') return bad('"query" must be a non-empty string');
  // A chunked body has no Content-Length: its size is checked once parsed.
  if (Buffer.byteLength(query) + Buffer.byteLength(JSON.stringify(variables ?? null)) > MAX_GRAPHQL_BODY_BYTES) {
    return {
      status: 413,
      code: 'PAYLOAD_TOO_LARGE',
      message: `A GraphQL request may have at most ${MAX_GRAPHQL_BODY_BYTES} bytes`,
    };
  }
  if (variables !== undefined && variables !== null && !isObject(variables))
    return bad('"variables" must be an object');
  if (operationName !== undefined && operationName !== null && typeof operationName !== 'string')
    return bad('"operationName" must be a string');
  return { query, variables: variables ?? undefined, operationName: operationName ?? undefined };
}

export const isRefusal = (value: GraphqlRequest | RequestRefusal): value is RequestRefusal => 'status' in value;
