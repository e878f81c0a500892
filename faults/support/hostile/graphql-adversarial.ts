import { Agent } from 'node:http';
import { Kind, Lexer, parse, Source, TokenKind, visit } from 'graphql';
import { HostileRequest, HostileResponse, send } from './http-client';
import { Outcome } from './judge';

/*
 * GraphQL documents whose validation cost grows faster than their size. The old depth and cost rules
 * followed every fragment spread, so a chain of fragments each spreading the previous one twice cost
 * 2^n: a 1 KB chain of 24 held the streamer's event loop for 30 s, and every other request (health
 * probes included) waited. Now the document is measured in one linear walk, and before validation
 * it may hold at most 2,000 tokens and 200 selections (README "GraphQL"). Each document here must be
 * answered with GraphQL `errors` carrying only the limits' codes (or, over 2,000 tokens, the parser's
 * refusal), run no resolver (the mutations among them would store a destination), and leave the
 * streamer answering /health while they are in flight.
 */
const MAX_TOKENS = 2000;
const MAX_SELECTIONS = 200;
export const LIMIT_CODES = ['QUERY_TOO_COMPLEX', 'QUERY_TOO_DEEP', 'QUERY_TOO_LARGE'];

export interface AdversarialDocument {
  label: string;
  query: string;
  /** Over the parser's token limit: the answer is its syntax error, not a limit's code. */
  overTokenLimit: boolean;
}

function tokens(query: string): number {
  const lexer = new Lexer(new Source(query));
  let count = 0;
  while (lexer.advance().kind !== TokenKind.EOF) count++;
  return count;
}

/** Fields, fragment spreads and inline fragments of every definition, as the endpoint counts them. */
function selections(query: string): number {
  let count = 0;
  visit(parse(query), {
    enter: (node) => void ([Kind.FIELD, Kind.FRAGMENT_SPREAD, Kind.INLINE_FRAGMENT].includes(node.kind) && count++),
  });
  return count;
}

/** The largest n whose document stays within `fits` (sizes grow with n). */
function largest(make: (n: number) => string, fits: (query: string) => boolean): number {
  let n = 1;
  while (fits(make(n * 2))) n *= 2;
  for (let step = n / 2; step >= 1; step /= 2) if (fits(make(n + step))) n += step;
  return n;
}
const withinTokens = (q: string) => tokens(q) <= MAX_TOKENS;
const withinSelections = (q: string) => withinTokens(q) && selections(q) <= MAX_SELECTIONS;

const repeat = (n: number, item: (i: number) => string): string =>
  Array.from({ length: n }, (_, i) => item(i)).join(' ');

/** Every shape, sized from the fixture's group (so an executed mutation would store a destination there). */
export function adversarialDocuments(groupPath: string, receiverUrl: string): AdversarialDocument[] {
  const create = `externalAuditEventDestinationCreate(input: {groupPath: ${JSON.stringify(groupPath)}, destinationUrl: ${JSON.stringify(`${receiverUrl}/graphql-adversarial`)}}) { errors }`;
  const group = `group(fullPath: ${JSON.stringify(groupPath)})`;
  const LIST = 'externalAuditEventDestinations { nodes { id } }';
  const chain = (links: number, type: 'Query' | 'Mutation') =>
    `fragment F0 on ${type} { ${type === 'Mutation' ? create : `${group} { id }`} } ${repeat(links - 1, (i) => `fragment F${i + 1} on ${type} { ...F${i} ...F${i} }`)}`;
  const shapes: Record<string, (n: number) => string> = {
    mutationChain: (links) => `mutation { ...F${links - 1} } ${chain(links, 'Mutation')}`,
    aliases: (n) => `{ ${repeat(n, (i) => `a${i}: ${group} { id }`)} }`,
    mutationAliases: (n) => `mutation { ${repeat(n, (i) => `a${i}: ${create}`)} }`,
    typenameAliases: (n) => `{ ${repeat(n, (i) => `a${i}: __typename`)} }`,
    deep: (levels) => {
      let inner = 'id';
      for (let i = 0; i < levels; i++) inner = `externalAuditEventDestinations { nodes { group { ${inner} } } }`;
      return `{ ${group} { ${inner} } }`;
    },
    operations: (n) => `${repeat(n, (i) => `query Q${i} { ...F29 }`)} ${chain(30, 'Query')}`,
    spreads: (n) => `{ ${group} { ${repeat(n, () => '...D')} } } fragment D on Group { ${LIST} }`,
  };
  const atTokens = (shape: string) => shapes[shape](largest(shapes[shape], withinTokens));
  const atSelections = (shape: string) => shapes[shape](largest(shapes[shape], withinSelections));
  const documents: Array<[string, string]> = [
    ['chain-of-30-fragments', shapes.mutationChain(30)],
    // At the selection bound the chain reaches the validation walk; at the token limit, the size bound.
    [
      `chain-of-${largest(shapes.mutationChain, withinSelections)}-fragments-at-the-selection-bound`,
      atSelections('mutationChain'),
    ],
    [`chain-of-${largest(shapes.mutationChain, withinTokens)}-fragments-at-the-token-limit`, atTokens('mutationChain')],
    // 200 links do not fit in 2,000 tokens: the parser refuses it.
    ['chain-of-200-fragments', shapes.mutationChain(200)],
    ['aliases-at-the-token-limit', atTokens('aliases')],
    ['mutation-aliases-at-the-token-limit', atTokens('mutationAliases')],
    ['typename-aliases-at-the-token-limit', atTokens('typenameAliases')],
    ['deep-nesting-at-the-selection-bound', atSelections('deep')],
    ['deep-nesting-at-the-token-limit', atTokens('deep')],
    ['operations-spreading-a-chain-at-the-selection-bound', atSelections('operations')],
    ['operations-spreading-a-chain-at-the-token-limit', atTokens('operations')],
    ['spreads-of-one-fragment-at-the-selection-bound', atSelections('spreads')],
    ['spreads-of-one-fragment-at-the-token-limit', atTokens('spreads')],
  ];
  return documents.map(([label, query]) => ({ label, query, overTokenLimit: !withinTokens(query) }));
}

interface GraphqlAnswer {
  data?: unknown;
  errors?: Array<{ message?: string; extensions?: { code?: string } }>;
}

/**
 * The answer an adversarial document must get: HTTP 200, no `data` (nothing executed), and `errors`
 * that are the limits' (graphql-js's "Too many validation errors" may close a list of them), or the
 * parser's refusal for a document over the token limit.
 */
export const refusedWithinLimits =
  (doc: AdversarialDocument) =>
  (r: HostileResponse): string | undefined => {
    if (r.status !== 200) return `expected 200 with GraphQL errors, got ${r.status}`;
    let answer: GraphqlAnswer;
    try {
      answer = JSON.parse(r.body) as GraphqlAnswer;
    } catch {
      return 'the answer is not JSON';
    }
    if ('data' in answer) return 'the document was executed (the answer has data)';
    const errors = answer.errors ?? [];
    if (errors.length === 0) return 'no GraphQL errors';
    if (doc.overTokenLimit) {
      // graphql-js words it "more that 2000 tokens" (sic); either spelling will do.
      return errors.every((e) => /^Syntax Error: Document contains more th(?:an|at) \d+ tokens/.test(e.message ?? ''))
        ? undefined
        : "expected the parser's token-limit error";
    }
    const codes = errors.map((e) => e.extensions?.code);
    const stray = errors.find(
      (e) =>
        !(
          LIMIT_CODES.includes(String(e.extensions?.code)) ||
          (e.extensions?.code === undefined && /^Too many validation errors/.test(e.message ?? ''))
        ),
    );
    if (stray) return `an error that is not a limit's: ${JSON.stringify(stray).slice(0, 200)}`;
    return codes.some((c) => LIMIT_CODES.includes(String(c))) ? undefined : `none of ${LIMIT_CODES.join(', ')}`;
  };

export interface BesideHealth {
  outcomes: Outcome[];
  health: Outcome;
  /** Documents still unanswered when /health answered (how much it had to get past). */
  inFlightAtHealth: number;
}

/**
 * Sends every document at once (an agent of its own, so none waits for a socket), and once all of
 * them are written, GET /health. The old validation held the event loop for as long as a document
 * took, so neither /health nor the documents came back: the judge reports them unanswered. No clock
 * is asserted, only that every answer came.
 */
export async function sendBesideHealth(
  baseUrl: string,
  documents: HostileRequest[],
  health: HostileRequest,
): Promise<BesideHealth> {
  const agent = new Agent({ keepAlive: false, maxSockets: Infinity });
  let answered = 0;
  const written: Array<Promise<void>> = [];
  const pending = documents.map((request) => {
    let markWritten: () => void = () => undefined;
    written.push(new Promise<void>((resolve) => (markWritten = resolve)));
    return send(baseUrl, request, { agent, onSent: () => markWritten(), keepBytes: 256 * 1024 }).then(
      (response): Outcome => {
        answered++;
        markWritten();
        return { request, response };
      },
    );
  });
  await Promise.all(written);
  const healthResponse = await send(baseUrl, health, { agent });
  const inFlightAtHealth = documents.length - answered;
  const outcomes = await Promise.all(pending);
  agent.destroy();
  return { outcomes, health: { request: health, response: healthResponse }, inFlightAtHealth };
}
