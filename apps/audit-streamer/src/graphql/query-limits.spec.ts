import { getIntrospectionQuery, GraphQLError, OperationDefinitionNode, parse, specifiedRules, validate } from 'graphql';
import { costLimitRule, DEFAULT_QUERY_LIMITS, depthLimitRule, QueryLimits } from './query-limits';
import { createStreamingSchema } from './resolvers';
import { seed001 } from './seed-001-operations';

const schema = createStreamingSchema();
const check = (query: string, limits: QueryLimits = DEFAULT_QUERY_LIMITS): readonly GraphQLError[] =>
  validate(schema, parse(query), [...specifiedRules, depthLimitRule(limits), costLimitRule(limits)]);
const codes = (errors: readonly GraphQLError[]) => errors.map((e) => e.extensions['code'] ?? e.message);

/** group.externalAuditEventDestinations.nodes.group... `levels` times: depth grows by 3 per level. */
const nested = (levels: number): string => {
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = `externalAuditEventDestinations { nodes { group { ${inner} } } }`;
  return `{ group(fullPath: "a") { ${inner} } }`;
};

describe('query depth and cost limits', () => {
  it.each(Object.entries(seed001))('lets the seed 001 operation %s through', (_name, operation) => {
    expect(check(operation('https://example.com/x', 'gid://gitlab/AuditEvents::Streaming::Header/1'))).toEqual([]);
  });

  it('lets the introspection query of GraphiQL through: introspection fields are not counted', () => {
    expect(check(getIntrospectionQuery())).toEqual([]);
  });

  it('refuses a query deeper than the limit, with GitLab-style wording', () => {
    expect(check(nested(2))).toEqual([]); // depth 8
    const errors = check(nested(3)); // depth 11
    expect(codes(errors)).toContain('QUERY_TOO_DEEP');
    expect(errors.map((e) => e.message)).toContain('Query has depth of 11, which exceeds max depth of 8');
  });

  it('counts every field once and multiplies what is under a list by the list size', () => {
    const query = '{ group(fullPath: "a") { id externalAuditEventDestinations { nodes { id headers { nodes { key value } } } } } }';
    // group 1 + id 1 + eaed 1 + nodes (1 + 2 * (id 1 + headers (1 + nodes (1 + 2 * 2)))) = 3 + 1 + 2 * 7 = 18
    expect(check(query, { maxDepth: 10, maxCost: 18, listSize: 2 })).toEqual([]);
    const errors = check(query, { maxDepth: 10, maxCost: 17, listSize: 2 });
    expect(errors.map((e) => e.message)).toEqual(['Query has complexity of 18, which exceeds max complexity of 17']);
    expect(codes(errors)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('refuses a wide query by cost although it is shallow', () => {
    const fields = Array.from({ length: 120 }, (_, i) => `a${i}: externalAuditEventDestinations { nodes { id } }`).join(' ');
    expect(codes(check(`{ group(fullPath: "a") { ${fields} } }`))).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('follows named and inline fragments', () => {
    const deep = `
      query { group(fullPath: "a") { ...G } }
      fragment G on Group { externalAuditEventDestinations { nodes { group { ... on Group { externalAuditEventDestinations { nodes { group { ...H } } } } } } } }
      fragment H on Group { externalAuditEventDestinations { nodes { id } } }`;
    expect(codes(check(deep))).toContain('QUERY_TOO_DEEP');
  });

  it('does not loop on a fragment cycle (the standard rule reports the cycle)', () => {
    const cyclic = 'query { group(fullPath: "a") { ...A } } fragment A on Group { externalAuditEventDestinations { nodes { group { ...A } } } }';
    const errors = check(cyclic);
    expect(errors.some((e) => e.message.includes('Cannot spread fragment "A" within itself'))).toBe(true);
  });

  it('measures each operation of a document on its own', () => {
    const doc = `query A { group(fullPath: "a") { id } } query B { ${nested(3).slice(1, -1)} }`;
    const errors = check(doc);
    expect(errors.map((e) => e.message)).toContain('Query has depth of 11, which exceeds max depth of 8');
    // Only B is refused: A alone is fine.
    expect(errors.map((e) => (e.nodes?.[0] as OperationDefinitionNode).name?.value)).toEqual(['B', 'B']);
  });
});
