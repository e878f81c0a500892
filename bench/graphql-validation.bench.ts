/**
 * GraphQL validation benchmark: what the streamer's endpoint does between parse and execute
 * (validateQuery: the selection bound, graphql-js's specifiedRules and the depth/cost rule) on
 * adversarial documents, beside the bare baseline of graphql-js alone (validate with specifiedRules)
 * on the same parsed document, in the same run. Both figures include the parse with the endpoint's
 * token limit. In-process: no services, Kafka or database.
 *   npm run bench:graphql
 * Knobs (env): BENCH_RUNS (15, median of), BENCH_WARMUP (3). Figures go to stdout and
 * bench/results/graphql-validation.json. A miss prints MISS and never fails the run.
 */
import { cpus } from 'node:os';
import {
  getIntrospectionQuery,
  GraphQLError,
  Lexer,
  parse,
  Source,
  specifiedRules,
  TokenKind,
  validate,
} from 'graphql';
import { MAX_GRAPHQL_BODY_BYTES, MAX_TOKENS } from '../apps/audit-streamer/src/graphql/graphql-request';
import {
  countLines,
  countSelections,
  DEFAULT_QUERY_LIMITS,
  MAX_LINES,
  MAX_SELECTIONS,
  measureDocument,
  validateQuery,
} from '../apps/audit-streamer/src/graphql/query-limits';
import { createStreamingSchema } from '../apps/audit-streamer/src/graphql/resolvers';
import { documentedOperations } from '../apps/audit-streamer/src/graphql/documented-operations';
import { FigureInput, writeResults } from './support/results';
import { backgroundBusyPct, gitInfo, log, num } from './support/run';
import { round, Target, targetLines } from './support/stats';

const cfg = { runs: num('BENCH_RUNS', 15), warmup: num('BENCH_WARMUP', 3, 0) };
/** An adversarial document may hold the event loop this long at most (the old depth/cost rules took 14 s on 982 bytes). */
const MAX_MS = 20;
const schema = createStreamingSchema();

const repeat = (n: number, item: (i: number) => string): string =>
  Array.from({ length: n }, (_, i) => item(i)).join(' ');
const LIST = 'externalAuditEventDestinations { nodes { id } }';
const chainFragments = (links: number): string =>
  `fragment F0 on Query { group(fullPath: "a") { id } } ${repeat(links - 1, (i) => `fragment F${i + 1} on Query { ...F${i} ...F${i} }`)}`;
const nested = (levels: number): string => {
  let inner = 'id';
  for (let i = 0; i < levels; i++) inner = `externalAuditEventDestinations { nodes { group { ${inner} } } }`;
  return `{ group(fullPath: "a") { ${inner} } }`;
};

/** Each shape by size; `atTokens` takes the largest size that still parses under MAX_TOKENS. */
const shapes = {
  chain: (links: number) => `query { ...F${links - 1} } ${chainFragments(links)}`,
  aliases: (n: number) => `{ group(fullPath: "a") { ${repeat(n, (i) => `a${i}: ${LIST}`)} } }`,
  deep: nested,
  operations: (n: number) => `${repeat(n, (i) => `query Q${i} { ...F29 }`)} ${chainFragments(30)}`,
  spreads: (n: number) => `{ group(fullPath: "a") { ${repeat(n, () => '...D')} } } fragment D on Group { ${LIST} }`,
  // OverlappingFieldsCanBeMergedRule compares same-named fields pairwise: quadratic in the document.
  sameName: (n: number) => `{ group(fullPath: "a") { ${repeat(n, () => LIST)} } }`,
  sameNameConflicts: (n: number) => `{ group(fullPath: "a") { ${repeat(n, (i) => (i % 2 ? 'x: id' : 'x: name'))} } }`,
  sameNameFragments: (n: number) =>
    `{ group(fullPath: "a") { ${repeat(n, (i) => `...D${i}`)} } } ${repeat(n, (i) => `fragment D${i} on Group { ${LIST} }`)}`,
  // Every error's location is found by scanning the line breaks before it: errors x lines.
  unknownFields: (n: number) => `{ group(fullPath: "a") { ${repeat(n, (i) => `zz${i}`)} } }`,
  conflictingFragments: (n: number) =>
    `{ group(fullPath: "a") { ${repeat(n, (i) => `...D${i}`)} } } ${repeat(n, (i) => `fragment D${i} on Group { x: ${i % 2 ? 'id' : 'name'} }`)}`,
};

const fits = (query: string, test: (q: string) => boolean): boolean => {
  try {
    return test(query);
  } catch {
    return false;
  }
};
const parsable = (q: string): boolean => parse(q, { maxTokens: MAX_TOKENS }) !== undefined;
const withinSelections = (q: string): boolean => countSelections(parse(q, { maxTokens: MAX_TOKENS })) <= MAX_SELECTIONS;
/** The largest n whose document passes `test` (parses under the token limit, or also stays within the selection bound). */
function largest(make: (n: number) => string, test: (q: string) => boolean): number {
  let n = 1;
  while (fits(make(n * 2), test)) n *= 2;
  for (let step = n / 2; step >= 1; step /= 2) if (fits(make(n + step), test)) n += step;
  return n;
}
const atTokens = (make: (n: number) => string): string => make(largest(make, parsable));
const atSelections = (make: (n: number) => string): string => make(largest(make, withinSelections));
/** Blank lines in front (they are not tokens): up to `lines` in all, or up to the body limit. */
const padded = (query: string, lines?: number): string =>
  `${'\n'.repeat(lines === undefined ? MAX_GRAPHQL_BODY_BYTES - 1024 - query.length : lines - countLines(query))}${query}`;

const introspection = getIntrospectionQuery({
  descriptions: true,
  specifiedByUrl: true,
  directiveIsRepeatable: true,
  schemaDescription: true,
  inputValueDeprecation: true,
  experimentalDirectiveDeprecation: true,
  oneOf: true,
});
const documents: Array<[string, string]> = [
  ['chain of 20 fragments', shapes.chain(20)],
  ['chain of 24 fragments', shapes.chain(24)],
  ['chain of 30 fragments', shapes.chain(30)],
  ['chain at the token limit', atTokens(shapes.chain)],
  ['aliases at the token limit', atTokens(shapes.aliases)],
  ['deep nesting at the selection bound', atSelections(shapes.deep)],
  ['deep nesting at the token limit', atTokens(shapes.deep)],
  ['operations spreading a chain of 30, token limit', atTokens(shapes.operations)],
  ['spreads of one fragment, token limit', atTokens(shapes.spreads)],
  ['same-named fields at the selection bound', atSelections(shapes.sameName)],
  ['same-named fields at the token limit', atTokens(shapes.sameName)],
  ['conflicting aliases at the selection bound', atSelections(shapes.sameNameConflicts)],
  ['conflicting aliases at the token limit', atTokens(shapes.sameNameConflicts)],
  ['same-named fragments at the selection bound', atSelections(shapes.sameNameFragments)],
  ['same-named fragments at the token limit', atTokens(shapes.sameNameFragments)],
  ['conflicting fragments at the selection bound', atSelections(shapes.conflictingFragments)],
  ['conflicting fragments at the token limit', atTokens(shapes.conflictingFragments)],
  ['conflicting aliases at the selection bound, line bound', padded(atSelections(shapes.sameNameConflicts), MAX_LINES)],
  ['conflicting aliases at the selection bound, body limit of lines', padded(atSelections(shapes.sameNameConflicts))],
  ['unknown fields at the selection bound, line bound', padded(atSelections(shapes.unknownFields), MAX_LINES)],
  ['unknown fields at the selection bound, body limit of lines', padded(atSelections(shapes.unknownFields))],
  ['real: GraphiQL introspection (every option)', introspection],
  ['real: documented listHeaders', documentedOperations.listHeaders('a')],
];

const endpoint = (query: string): readonly GraphQLError[] =>
  validateQuery(schema, parse(query, { maxTokens: MAX_TOKENS }));
const bare = (query: string): readonly GraphQLError[] =>
  validate(schema, parse(query, { maxTokens: MAX_TOKENS }), specifiedRules);

function tokens(query: string): number {
  const lexer = new Lexer(new Source(query));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

const median = (values: number[]): number => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
function timeMs(run: () => unknown): number {
  const t0 = performance.now();
  run();
  return performance.now() - t0;
}

/** Endpoint and baseline alternate run by run, so a noisy moment hits both alike. */
function measure(query: string): { ms: number; baselineMs: number } {
  for (let i = 0; i < cfg.warmup; i++) {
    endpoint(query);
    bare(query);
  }
  const ms: number[] = [];
  const baselineMs: number[] = [];
  for (let i = 0; i < cfg.runs; i++) {
    ms.push(timeMs(() => endpoint(query)));
    baselineMs.push(timeMs(() => bare(query)));
  }
  return { ms: round(median(ms), 3), baselineMs: round(median(baselineMs), 3) };
}

/** The limits' codes, and how many of graphql-js's own errors (which have none). */
function answer(errors: readonly GraphQLError[]): string {
  const codes = errors.flatMap((e) => (e.extensions['code'] ? [String(e.extensions['code'])] : []));
  const others = errors.length - codes.length;
  return [...new Set(codes), ...(others > 0 ? [`${others} graphql-js errors`] : [])].join(', ') || 'valid';
}

function describeDocument(query: string) {
  const document = parse(query, { maxTokens: MAX_TOKENS });
  const { steps } = measureDocument(schema, document, DEFAULT_QUERY_LIMITS.listSize);
  return {
    bytes: Buffer.byteLength(query),
    lines: countLines(query),
    tokens: tokens(query),
    selections: countSelections(document),
    steps,
    answer: answer(endpoint(query)),
  };
}

async function main(): Promise<void> {
  const busyBeforePct = await backgroundBusyPct();
  log(
    `${documents.length} documents, median of ${cfg.runs} runs each after ${cfg.warmup} warm-up runs; MAX_TOKENS ${MAX_TOKENS}, MAX_SELECTIONS ${MAX_SELECTIONS}, MAX_LINES ${MAX_LINES}`,
  );
  // The first document measured would otherwise pay for compiling graphql-js.
  for (const [, query] of documents) measure(query);
  const rows = documents.map(([name, query]) => ({ name, ...describeDocument(query), ...measure(query) }));
  const adversarial = rows.filter((r) => !r.name.startsWith('real:'));
  const worst = Math.max(...adversarial.map((r) => r.ms));
  const worstBaseline = Math.max(...adversarial.map((r) => r.baselineMs));
  printTable(rows);
  const targets: Target[] = [
    { name: 'slowest adversarial document (ms)', goal: `< ${MAX_MS}`, value: worst, pass: worst < MAX_MS },
  ];
  process.stdout.write(`\nTargets:\n${targetLines(targets)}\n`);
  const details = {
    at: new Date().toISOString(),
    git: gitInfo(),
    node: process.version,
    cpus: cpus().length,
    busyBeforePct,
    config: { ...cfg, maxTokens: MAX_TOKENS, maxSelections: MAX_SELECTIONS, maxLines: MAX_LINES },
    documents: rows,
    targets,
  };
  writeResults('graphql-validation', details, [
    ...rows.map((r): FigureInput => ({
      name: `${r.name} (ms)`,
      value: r.ms,
      baseline: r.baselineMs,
      goals: r.name.startsWith('real:') ? undefined : [{ goal: `< ${MAX_MS}` }],
    })),
    {
      name: 'slowest adversarial document (ms)',
      value: worst,
      baseline: worstBaseline,
      goals: [{ goal: `< ${MAX_MS}` }],
    },
  ]);
}

function printTable(
  rows: Array<ReturnType<typeof describeDocument> & { name: string; ms: number; baselineMs: number }>,
): void {
  const lines = [
    '| document | bytes | lines | tokens | selections | steps | endpoint answer | endpoint (ms) | graphql-js alone (ms) |',
    '| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.name} | ${r.bytes} | ${r.lines} | ${r.tokens} | ${r.selections} | ${r.steps} | ${r.answer} | ${r.ms} | ${r.baselineMs} |`,
    ),
  ];
  process.stdout.write(`\n${lines.join('\n')}\n`);
}

main().catch((err: Error) => {
  process.exitCode = 1;
  process.stderr.write(`[bench] failed: ${err.stack ?? err.message}\n`);
});
