import { getIntrospectionQuery, parse } from 'graphql';
import type { Request } from 'express';
import { checkTransport, isRefusal, MAX_GRAPHQL_BODY_BYTES, MAX_TOKENS, readGraphqlBody } from './graphql-request';

const req = (contentType: string | undefined, length?: number) =>
  ({
    headers: {
      ...(contentType && { 'content-type': contentType }),
      ...(length !== undefined && { 'content-length': String(length) }),
    },
    is: (type: string) => (contentType?.split(';')[0].trim() === type ? type : false),
  }) as unknown as Pick<Request, 'headers' | 'is'>;

describe('GraphQL over HTTP: what the endpoint accepts', () => {
  it('takes JSON only, and not more than the limit', () => {
    expect(checkTransport(req('application/json; charset=utf-8', 100))).toBeNull();
    expect(checkTransport(req('application/x-www-form-urlencoded'))?.status).toBe(415);
    expect(checkTransport(req('text/plain'))?.status).toBe(415);
    expect(checkTransport(req(undefined))?.status).toBe(415);
    expect(checkTransport(req('application/json', MAX_GRAPHQL_BODY_BYTES + 1))?.status).toBe(413);
  });

  it('reads {query, variables, operationName} and refuses other shapes', () => {
    expect(readGraphqlBody({ query: '{ x }', variables: { a: 1 }, operationName: 'Q' })).toEqual({
      query: '{ x }',
      variables: { a: 1 },
      operationName: 'Q',
    });
    expect(readGraphqlBody({ query: '{ x }', variables: null, operationName: null })).toEqual({
      query: '{ x }',
      variables: undefined,
      operationName: undefined,
    });
    for (const body of [
      null,
      [],
      'q',
      {},
      { query: ' ' },
      { query: 1 },
      { query: '{ x }', variables: [] },
      { query: '{ x }', operationName: 3 },
    ]) {
      const read = readGraphqlBody(body);
      expect(isRefusal(read) && read.status).toBe(400);
    }
    const chunked = readGraphqlBody({ query: `{ x }#${'y'.repeat(MAX_GRAPHQL_BODY_BYTES)}` });
    expect(isRefusal(chunked) && chunked.status).toBe(413);
  });

  it('parses the introspection query within the token limit', () => {
    expect(() => parse(getIntrospectionQuery(), { maxTokens: MAX_TOKENS })).not.toThrow();
  });
});
