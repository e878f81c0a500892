import {
  DocumentNode,
  getIntrospectionQuery,
  GraphQLError,
  OperationDefinitionNode,
  parse,
  specifiedRules,
  validate,
  visit,
} from 'graphql';
import { MAX_TOKENS } from './graphql-request';
import {
  countLines,
  countSelections,
  DEFAULT_QUERY_LIMITS,
  MAX_LINES,
  MAX_MEASURED_COST,
  MAX_SELECTIONS,
  MAX_VALIDATION_ERRORS,
  measureDocument,
  QueryLimits,
  queryLimitsRule,
  validateQuery,
} from './query-limits';
import { createStreamingSchema } from './resolvers';
import { documentedOperations } from './documented-operations';

const schema = createStreamingSchema();
const check = (query: string, limits: QueryLimits = DEFAULT_QUERY_LIMITS): readonly GraphQLError[] =>
  validate(schema, parse(query), [...specifiedRules, queryLimitsRule(limits)]);
const codes = (errors: readonly GraphQLError[]) => errors.map((e) => e.extensions['code'] ?? e.message);

/** group.externalAuditEventDestinations.nodes.group... `levels` times: depth grows by 3 per level. */
const nested = (levels: number): string => {
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = `externalAuditEventDestinations { nodes { group { ${inner} } } }`;
  return `{ group(fullPath: "a") { ${inner} } }`;
};

describe('query depth and cost limits', () => {
  it.each(Object.entries(documentedOperations))('lets the documented operation %s through', (_name, operation) => {
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
    const query =
      '{ group(fullPath: "a") { id externalAuditEventDestinations { nodes { id headers { nodes { key value } } } } } }';
    // group 1 + id 1 + eaed 1 + nodes (1 + 2 * (id 1 + headers (1 + nodes (1 + 2 * 2)))) = 3 + 1 + 2 * 7 = 18
    expect(check(query, { maxDepth: 10, maxCost: 18, listSize: 2 })).toEqual([]);
    const errors = check(query, { maxDepth: 10, maxCost: 17, listSize: 2 });
    expect(errors.map((e) => e.message)).toEqual(['Query has complexity of 18, which exceeds max complexity of 17']);
    expect(codes(errors)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('refuses a wide query by cost although it is shallow', () => {
    const fields = Array.from({ length: 120 }, (_, i) => `a${i}: externalAuditEventDestinations { nodes { id } }`).join(
      ' ',
    );
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
    const cyclic =
      'query { group(fullPath: "a") { ...A } } fragment A on Group { externalAuditEventDestinations { nodes { group { ...A } } } }';
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

/*
 * Adversarial documents: shapes whose naive measure, or graphql-js's own validation, grows faster than
 * the document. Work is asserted as a step count against the document's AST nodes, never as a duration.
 */
const repeat = (n: number, item: (i: number) => string): string =>
  Array.from({ length: n }, (_, i) => item(i)).join(' ');
const adversarial = {
  /** F0 costs 2, each further link spreads the previous one twice: `links` links cost 2^links. */
  chainFragments: (links: number): string =>
    `fragment F0 on Query { group(fullPath: "a") { id } } ${repeat(links - 1, (i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`)}`,
  chain: (links: number): string => `query { ...F${links - 1} } ${adversarial.chainFragments(links)}`,
  /** `count` aliases of `field`: a leaf costs 1, LIST_OF_IDS 22, LIST_OF_HEADERS 442. */
  aliases: (count: number, field = 'id'): string =>
    `{ group(fullPath: "a") { ${repeat(count, (i) => `a${i}: ${field}`)} } }`,
  deep: nested,
  /** `operations` operations, each spreading the same chain. */
  operations: (operations: number, links: number): string =>
    `${repeat(operations, (i) => `query Q${i} { ...F${links - 1} }`)} ${adversarial.chainFragments(links)}`,
  /** `count` spreads of one fragment costing 22. */
  spreads: (count: number): string =>
    `{ group(fullPath: "a") { ${repeat(count, () => '...D')} } } fragment D on Group { externalAuditEventDestinations { nodes { id } } }`,
};
const LIST_OF_IDS = 'externalAuditEventDestinations { nodes { id } }';
const LIST_OF_HEADERS = 'externalAuditEventDestinations { nodes { headers { nodes { id } } } }';

const fits = (query: string): boolean => {
  try {
    parse(query, { maxTokens: MAX_TOKENS });
    return true;
  } catch {
    return false;
  }
};
/** The largest n whose document still parses under the endpoint's token limit. */
const largestParsable = (make: (n: number) => string): number => {
  let n = 1;
  while (fits(make(n * 2))) n *= 2;
  for (let step = n / 2; step >= 1; step /= 2) if (fits(make(n + step))) n += step;
  return n;
};
const astNodes = (document: DocumentNode): number => {
  let nodes = 0;
  visit(document, { enter: () => void nodes++ });
  return nodes;
};
/** What the endpoint does between parse and execute. */
const endpoint = (query: string): readonly GraphQLError[] =>
  validateQuery(schema, parse(query, { maxTokens: MAX_TOKENS }));
const measure = (query: string) => {
  const document = parse(query, { maxTokens: MAX_TOKENS });
  const { operations, steps } = measureDocument(schema, document, DEFAULT_QUERY_LIMITS.listSize);
  return { document, operations: [...operations.values()], steps, nodes: astNodes(document) };
};
/** Each fragment measured once and each selection visited once: the walk never exceeds the document. */
const STEPS_PER_AST_NODE = 1;

describe('adversarial documents: refused or accepted as they should be', () => {
  it.each([20, 24, 30])('refuses a chain of %i doubling fragments as too complex, with the exact figure', (links) => {
    const errors = endpoint(adversarial.chain(links));
    expect(errors.map((e) => e.message)).toEqual([
      `Query has complexity of ${2 ** links}, which exceeds max complexity of 2000`,
    ]);
    expect(codes(errors)).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('lets a chain through while its cost is within the limit', () => {
    expect(endpoint(adversarial.chain(10))).toEqual([]); // 1,024
    expect(codes(endpoint(adversarial.chain(11)))).toEqual(['QUERY_TOO_COMPLEX']); // 2,048
  });

  it('saturates the cost of the longest chain that parses, so the message stays a number', () => {
    const links = largestParsable(adversarial.chain);
    expect(links).toBeGreaterThan(150); // 2^150 is far beyond any integer a double holds exactly
    expect(check(adversarial.chain(links)).map((e) => e.message)).toEqual([
      `Query has complexity of ${MAX_MEASURED_COST}, which exceeds max complexity of 2000`,
    ]);
    expect(codes(endpoint(adversarial.chain(links)))).toEqual(['QUERY_TOO_LARGE']);
  });

  it('counts aliases once each: hundreds of leaves pass, a few wide lists do not, and too many is refused by size', () => {
    expect(endpoint(adversarial.aliases(150))).toEqual([]); // cost 151, 151 selections
    expect(endpoint(adversarial.aliases(60, LIST_OF_IDS))).toEqual([]); // 1 + 60 * 22 = 1,321
    expect(endpoint(adversarial.aliases(5, LIST_OF_HEADERS)).map((e) => e.message)).toEqual([
      'Query has complexity of 2211, which exceeds max complexity of 2000', // 1 + 5 * (1 + 1 + 20 * (1 + 1 + 20 * 1))
    ]);
    expect(codes(endpoint(adversarial.aliases(MAX_SELECTIONS)))).toEqual(['QUERY_TOO_LARGE']);
    expect(codes(check(adversarial.aliases(600, LIST_OF_IDS)))).toEqual(['QUERY_TOO_COMPLEX']);
  });

  it('refuses deep nesting by depth up to the selection bound, and by size up to the token limit', () => {
    expect(countSelections(parse(adversarial.deep(66)))).toBe(MAX_SELECTIONS);
    expect(endpoint(adversarial.deep(66)).map((e) => e.message)).toContain(
      'Query has depth of 200, which exceeds max depth of 8',
    );
    const levels = largestParsable(adversarial.deep);
    expect(codes(endpoint(adversarial.deep(levels)))).toEqual(['QUERY_TOO_LARGE']);
    expect(check(adversarial.deep(levels)).map((e) => e.message)).toContain(
      `Query has depth of ${3 * levels + 2}, which exceeds max depth of 8`,
    );
  });

  it('measures each of many operations spreading one chain, the chain once', () => {
    expect(endpoint(adversarial.operations(100, 10))).toEqual([]); // each costs 1,024
    const errors = endpoint(adversarial.operations(MAX_VALIDATION_ERRORS, 12)); // each costs 4,096
    expect(errors.map((e) => (e.nodes?.[0] as OperationDefinitionNode).name?.value)).toEqual(
      Array.from({ length: MAX_VALIDATION_ERRORS }, (_, i) => `Q${i}`),
    );
    expect(new Set(errors.map((e) => e.message))).toEqual(
      new Set(['Query has complexity of 4096, which exceeds max complexity of 2000']),
    );
  });

  it('counts every spread of a fragment, as the fields it stands for would be', () => {
    expect(endpoint(adversarial.spreads(50))).toEqual([]); // 1 + 50 * 22 = 1,101
    expect(endpoint(adversarial.spreads(100)).map((e) => e.message)).toEqual([
      'Query has complexity of 2201, which exceeds max complexity of 2000',
    ]);
  });

  it('lets the real documents through the size bound: the documented operations and GraphiQL introspection with every option', () => {
    for (const operation of Object.values(documentedOperations))
      expect(endpoint(operation('https://example.com/x', 'gid://gitlab/Group/1'))).toEqual([]);
    const introspection = getIntrospectionQuery({
      descriptions: true,
      specifiedByUrl: true,
      directiveIsRepeatable: true,
      schemaDescription: true,
      inputValueDeprecation: true,
      experimentalDirectiveDeprecation: true,
      oneOf: true,
    });
    expect(countSelections(parse(introspection))).toBeLessThan(MAX_SELECTIONS / 2);
    expect(endpoint(introspection)).toEqual([]);
  });

  it('refuses a document over the selection bound before any rule runs, unused fragments included', () => {
    const query = `{ group(fullPath: "a") { id } } fragment Unused on Group { ${repeat(MAX_SELECTIONS, (i) => `a${i}: id`)} }`;
    const errors = endpoint(query);
    expect(errors.map((e) => e.message)).toEqual([
      `Query has ${MAX_SELECTIONS + 2} selections, which exceeds max selections of ${MAX_SELECTIONS}`,
    ]);
    expect(codes(errors)).toEqual(['QUERY_TOO_LARGE']);
  });

  it('refuses a document padded with line breaks before any rule reports errors on it', () => {
    const errors = `{ group(fullPath: "a") { ${repeat(150, (i) => `zz${i}`)} } }`;
    expect(codes(endpoint(`${'\n'.repeat(MAX_LINES - 1)}${errors}`))).not.toContain('QUERY_TOO_LARGE');
    const padded = endpoint(`${'\n'.repeat(60_000)}${errors}`);
    expect(padded.map((e) => e.message)).toEqual([`Query has 60001 lines, which exceeds max lines of ${MAX_LINES}`]);
    expect(codes(padded)).toEqual(['QUERY_TOO_LARGE']);
    expect(countLines('a\r\nb\rc\nd')).toBe(4); // as graphql-js counts them for error locations
  });

  it('stops after a few validation errors, each of which costs a scan of the document', () => {
    const errors = endpoint(`{ group(fullPath: "a") { ${repeat(150, (i) => `zz${i}`)} } }`);
    expect(errors).toHaveLength(MAX_VALIDATION_ERRORS + 1);
    expect(errors[MAX_VALIDATION_ERRORS].message).toBe(
      'Too many validation errors, error limit reached. Validation aborted.',
    );
  });

  it('lets a real document through pretty-printed, one token per line', () => {
    const introspection = getIntrospectionQuery({ descriptions: true, inputValueDeprecation: true, typeDepth: 20 });
    expect(countLines(introspection)).toBeLessThan(MAX_LINES / 4);
    expect(endpoint(introspection.replace(/\s+/g, '\n'))).toEqual([]);
  });

  it('skips an unknown fragment and stops at a cycle of two fragments (the standard rules report them)', () => {
    expect(endpoint('{ ...Nope }').map((e) => e.message)).toEqual(['Unknown fragment "Nope".']);
    const cyclic =
      '{ group(fullPath: "a") { ...A } } fragment A on Group { ...B } fragment B on Group { externalAuditEventDestinations { nodes { group { ...A } } } }';
    expect(endpoint(cyclic).some((e) => e.message.startsWith('Cannot spread fragment "A" within itself via "B"'))).toBe(
      true,
    );
    expect(measure(cyclic).operations).toEqual([{ depth: 4, cost: 23 }]); // the inner ...A counts nothing
  });
});

describe('adversarial documents: the walk is linear in the document', () => {
  const cases: Array<[string, string]> = [
    ...[20, 24, 30, 60].map((links): [string, string] => [`chain of ${links}`, adversarial.chain(links)]),
    ['longest chain that parses', adversarial.chain(largestParsable(adversarial.chain))],
    [
      'hundreds of aliases of a list',
      adversarial.aliases(
        largestParsable((n) => adversarial.aliases(n, LIST_OF_IDS)),
        LIST_OF_IDS,
      ),
    ],
    ['deepest nesting that parses', adversarial.deep(largestParsable(adversarial.deep))],
    [
      'many operations spreading a chain of 30',
      adversarial.operations(
        largestParsable((n) => adversarial.operations(n, 30)),
        30,
      ),
    ],
    ['many spreads of one fragment', adversarial.spreads(largestParsable(adversarial.spreads))],
  ];

  it.each(cases)('%s: no more steps than AST nodes', (_name, query) => {
    const { steps, nodes } = measure(query);
    expect(steps).toBeGreaterThan(0);
    expect(steps).toBeLessThanOrEqual(STEPS_PER_AST_NODE * nodes);
  });

  it('adds the same few steps per link to a chain, where following every spread doubles them', () => {
    const steps = [20, 24, 30].map((links) => measure(adversarial.chain(links)).steps);
    expect(steps).toEqual([1 + 1 + 1 + 2 * 19, 1 + 1 + 1 + 2 * 23, 1 + 1 + 1 + 2 * 29]); // the query's spread, group, id, two spreads per link
  });

  it('measures a fragment against its type condition, the same wherever it is spread', () => {
    const query = `query A { group(fullPath: "a") { ...H } }
      query B { group(fullPath: "a") { externalAuditEventDestinations { nodes { group { ...H } } } } }
      fragment H on Group { externalAuditEventDestinations { nodes { id } } }`;
    const { operations, steps } = measure(query);
    // H: depth 3, cost 22 (1 + 1 + 20 * 1); A: group + H; B: group, list, nodes (x20), group + H.
    expect(operations).toEqual([
      { depth: 4, cost: 1 + 22 },
      { depth: 7, cost: 1 + 1 + 1 + 20 * (1 + 22) },
    ]);
    expect(steps).toBe(2 + 5 + 3); // A's two selections, B's five, H's three, once
  });
});
