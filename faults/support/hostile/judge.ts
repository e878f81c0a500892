import { HostileRequest, HostileResponse } from './http-client';

/*
 * What counts as a failure of one hostile request: a 5xx or no answer at all; a refused request
 * whose error is neither application/problem+json nor, from GraphQL, a GraphQL `errors` answer;
 * a request the documented schema refuses being accepted; a GraphQL "Internal server error"; and
 * whatever the request's own class demands of its answer (`check`: a 401 naming the claim, a 400
 * naming the parameter, no foreign host in a Link, ...).
 */
export interface Outcome {
  request: HostileRequest;
  response: HostileResponse;
}

const isGraphql = (r: HostileRequest) => r.route.includes('graphql');

function bodySample(r: HostileRequest): string {
  if (!r.body) return '(none)';
  const text = r.body.subarray(0, 100).toString('utf8');
  return `${JSON.stringify(text)}${r.body.length > 100 ? ` … (${r.body.length} bytes)` : ''}`;
}

export function describe(o: Outcome, why: string): string {
  const path =
    o.request.path.length > 160 ? `${o.request.path.slice(0, 160)}… (${o.request.path.length} chars)` : o.request.path;
  const answer = o.response.error
    ? `error ${o.response.error}`
    : `${o.response.status} ${o.response.contentType} ${o.response.body.slice(0, 200)}`;
  return `[${why}] ${o.request.service} ${o.request.method} ${path} (${o.request.label}; content-type ${o.request.headers['Content-Type'] ?? 'none'}; body ${bodySample(o.request)}) -> ${answer}`;
}

/**
 * A GraphQL answer that ran nothing: HTTP 200 and only `errors` (how the endpoint answers a document it
 * refuses to parse or validate). An executed document answers `{"data": …}` first, so this holds on the
 * 4 KiB sample of the body too.
 */
export const refusedByGraphql = (o: Outcome): boolean =>
  isGraphql(o.request) && o.response.status === 200 && o.response.body.startsWith('{"errors":');

function common(o: Outcome): string | undefined {
  const { status, contentType, body, error } = o.response;
  if (error || status === 0) return 'no answer';
  if (status >= 500) return '5xx';
  if (isGraphql(o.request) && body.includes('INTERNAL_SERVER_ERROR')) return 'GraphQL internal error';
  if (status >= 400) {
    // GraphQL answers in its own shape; a request refused before it reaches GraphQL (unparseable, too large) is a problem+json.
    if (isGraphql(o.request) && /^application\/(graphql-response\+)?json/.test(contentType)) {
      return body.includes('"errors"') ? undefined : 'GraphQL error without errors';
    }
    if (!contentType.startsWith('application/problem+json')) return 'error not problem+json';
    return undefined;
  }
  if (o.request.expect === 'reject' && !refusedByGraphql(o)) return 'accepted a request that must be refused';
  return undefined;
}

/** Why the outcome fails: the common bar first, then the request's own class check. */
export function judge(o: Outcome): string | undefined {
  return common(o) ?? o.request.check?.(o.response);
}

export const accepted = (o: Outcome) => o.response.status >= 200 && o.response.status < 400 && !refusedByGraphql(o);

/** The `errors[].field` of a problem+json answer (empty when the body is not one). */
export function problemFields(response: HostileResponse): string[] {
  try {
    const errors = (JSON.parse(response.body) as { errors?: Array<{ field?: unknown }> }).errors;
    return Array.isArray(errors) ? errors.map((e) => String(e.field)) : [];
  } catch {
    return [];
  }
}

/** A 400 problem+json whose `errors[].field` names `field` (how a refusal of one parameter must look). */
export const refusedNaming =
  (field: string, statuses = [400]) =>
  (r: HostileResponse): string | undefined => {
    if (!statuses.includes(r.status)) return `expected ${statuses.join(' or ')} naming ${field}, got ${r.status}`;
    if (!r.contentType.startsWith('application/problem+json')) return `expected a problem+json naming ${field}`;
    return problemFields(r).includes(field) ? undefined : `the problem does not name ${field} in errors[].field`;
  };
