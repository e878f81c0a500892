import {
  ASTVisitor,
  DocumentNode,
  FieldNode,
  FragmentDefinitionNode,
  getNamedType,
  GraphQLError,
  GraphQLNamedType,
  GraphQLOutputType,
  GraphQLSchema,
  isInterfaceType,
  isListType,
  isNonNullType,
  isObjectType,
  Kind,
  OperationDefinitionNode,
  SelectionNode,
  SelectionSetNode,
  specifiedRules,
  validate,
  ValidationContext,
  ValidationRule,
} from 'graphql';

/*
 * Depth and cost limits as a validation rule: a query over the limits is refused before any resolver
 * runs. Written here rather than taken from a package: graphql-depth-limit and graphql-validation-
 * complexity are unmaintained (and the latter predates graphql 16), graphql-query-complexity needs
 * per-field estimators we would write anyway, and the whole thing is one small walk.
 *
 * The walk is linear in the document whatever its shape: each named fragment is measured once, against
 * its type condition, and reused at every spread. Following spreads naively costs as much as the
 * expanded query, which a chain of fragments each spreading the previous one twice makes exponential
 * in the size of the document (a 1 KB query held the event loop for 14 s). Depth and cost come from
 * the same walk, so there is one rule, not one per limit.
 *
 * Introspection fields (`__schema`, `__type`, `__typename`) are not counted: their size is bounded by
 * the schema, and the standard introspection query of GraphiQL is deeper than any real query.
 *
 * validateQuery, what the endpoint runs, first bounds the document's selections and lines in linear
 * time: two of graphql-js's own costs grow faster than the document (MAX_SELECTIONS, MAX_LINES).
 */

export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
  /** What a list field counts as: its items' cost times this (the largest page, or the largest list). */
  listSize: number;
}

/** A depth of 8 holds every documented query (the deepest has 6); the cost limit holds the widest query of this schema. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 8, maxCost: 2000, listSize: 20 };

/**
 * Where a cost stops growing. Doubling spreads and nested lists make the real figure exponential in
 * the document (a chain of 199 doubling fragments fits in 2,000 tokens: 2^199): saturating keeps the
 * error message a plain number, and every figure below it is an exact integer.
 */
export const MAX_MEASURED_COST = 1e15;

/**
 * Selections (fields, fragment spreads, inline fragments) a document may hold, checked before any
 * validation rule runs. graphql-js's OverlappingFieldsCanBeMergedRule compares the fields that share a
 * response name pairwise, so its work grows with the square of the document; its own budget of 500,000
 * comparisons does not stop it before 60-75 ms on a 2,000-token document of same-named fields or
 * conflicting aliases, where the largest linear documents take 3-4 ms. The largest real documents are
 * GraphiQL's introspection query (83 selections with every option, 116 with a type depth of 20) and
 * the documented listHeaders (11); at 200, the slowest adversarial document takes ~5 ms
 * (bench/graphql-validation.bench.ts).
 */
export const MAX_SELECTIONS = 200;

export interface Measure {
  depth: number;
  cost: number;
}

export interface DocumentMeasure {
  operations: Map<OperationDefinitionNode, Measure>;
  /** Selection nodes visited: each at most once, so never more than the document's selections. */
  steps: number;
}

const NOTHING: Measure = { depth: 0, cost: 0 };
const LEAF: Measure = { depth: 1, cost: 1 };
const saturate = (cost: number): number => Math.min(cost, MAX_MEASURED_COST);

/** Depth and cost of every operation of the document, in one walk (fragments measured once each). */
export function measureDocument(schema: GraphQLSchema, document: DocumentNode, listSize: number): DocumentMeasure {
  const walk = new DocumentWalk(schema, document, listSize);
  const operations = new Map<OperationDefinitionNode, Measure>();
  for (const definition of document.definitions) {
    if (definition.kind === Kind.OPERATION_DEFINITION) operations.set(definition, walk.operation(definition));
  }
  return { operations, steps: walk.steps };
}

class DocumentWalk {
  steps = 0;
  private readonly fragments = new Map<string, FragmentDefinitionNode>();
  private readonly measured = new Map<string, Measure>();
  private readonly inProgress = new Set<string>();

  constructor(
    private readonly schema: GraphQLSchema,
    document: DocumentNode,
    private readonly listSize: number,
  ) {
    // The last definition of a name wins, as in ValidationContext.getFragment (UniqueFragmentNames reports duplicates).
    for (const definition of document.definitions) {
      if (definition.kind === Kind.FRAGMENT_DEFINITION) this.fragments.set(definition.name.value, definition);
    }
  }

  operation(operation: OperationDefinitionNode): Measure {
    return this.selections(operation.selectionSet, this.schema.getRootType(operation.operation) ?? undefined);
  }

  private selections(selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): Measure {
    let depth = 0;
    let cost = 0;
    for (const selection of selectionSet.selections) {
      this.steps++;
      const m = this.selection(selection, parent);
      depth = Math.max(depth, m.depth);
      cost = saturate(cost + m.cost);
    }
    return { depth, cost };
  }

  private selection(selection: SelectionNode, parent: GraphQLNamedType | undefined): Measure {
    if (selection.kind === Kind.FIELD) return this.field(selection, parent);
    if (selection.kind === Kind.FRAGMENT_SPREAD) return this.fragment(selection.name.value);
    return this.selections(
      selection.selectionSet,
      selection.typeCondition ? this.type(selection.typeCondition.name.value) : parent,
    );
  }

  private field(node: FieldNode, parent: GraphQLNamedType | undefined): Measure {
    if (node.name.value.startsWith('__')) return NOTHING;
    const field =
      parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[node.name.value] : undefined;
    if (!field || !node.selectionSet) return LEAF;
    const inner = this.selections(node.selectionSet, getNamedType(field.type));
    return { depth: inner.depth + 1, cost: saturate(1 + inner.cost * (returnsList(field.type) ? this.listSize : 1)) };
  }

  /**
   * A fragment's measure depends only on its selections and type condition, not on where it is
   * spread: measured once, reused. A spread of a fragment being measured is a cycle
   * (NoFragmentCyclesRule reports it) and counts nothing; an unknown one is KnownFragmentNamesRule's.
   */
  private fragment(name: string): Measure {
    const known = this.measured.get(name);
    if (known) return known;
    const fragment = this.fragments.get(name);
    if (!fragment || this.inProgress.has(name)) return NOTHING;
    this.inProgress.add(name);
    const m = this.selections(fragment.selectionSet, this.type(fragment.typeCondition.name.value));
    this.inProgress.delete(name);
    this.measured.set(name, m);
    return m;
  }

  private type(name: string): GraphQLNamedType | undefined {
    return this.schema.getType(name) ?? undefined;
  }
}

function returnsList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/**
 * Refuses an operation nested deeper than `maxDepth` fields or costing more than `maxCost` (one per
 * field, a list's items times `listSize`), in GitLab's wording. The document is measured once, on entry.
 */
export function queryLimitsRule(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => {
    let measured: DocumentMeasure | undefined;
    return {
      Document(document) {
        measured = measureDocument(context.getSchema(), document, limits.listSize);
      },
      OperationDefinition(operation) {
        const m = measured?.operations.get(operation);
        if (m) reportOverLimits(context, operation, m, limits);
      },
    };
  };
}

function reportOverLimits(
  context: ValidationContext,
  operation: OperationDefinitionNode,
  { depth, cost }: Measure,
  limits: QueryLimits,
): void {
  if (depth > limits.maxDepth) {
    context.reportError(
      new GraphQLError(`Query has depth of ${depth}, which exceeds max depth of ${limits.maxDepth}`, {
        nodes: [operation],
        extensions: { code: 'QUERY_TOO_DEEP' },
      }),
    );
  }
  if (cost > limits.maxCost) {
    context.reportError(
      new GraphQLError(`Query has complexity of ${cost}, which exceeds max complexity of ${limits.maxCost}`, {
        nodes: [operation],
        extensions: { code: 'QUERY_TOO_COMPLEX' },
      }),
    );
  }
}

/**
 * Line breaks a document may hold. graphql-js gives every validation error its line and column by
 * scanning the document's line breaks up to the error, so reporting costs errors x lines; whitespace
 * and comments are not tokens, and 64 KiB of blank lines under 100 errors took 190-250 ms. The
 * introspection query of GraphiQL has 109 lines (153 with a type depth of 20); a document at the
 * selection bound printed one field per line has ~400.
 */
export const MAX_LINES = 1000;

/** graphql-js stops at 100 by default; a client fixing its query reads the first few, and each costs a scan of the lines. */
export const MAX_VALIDATION_ERRORS = 20;

/** Fields, fragment spreads and inline fragments of every definition, used or not (every rule visits them all). */
export function countSelections(document: DocumentNode): number {
  let count = 0;
  const pending: SelectionSetNode[] = [];
  for (const definition of document.definitions) {
    if ('selectionSet' in definition && definition.selectionSet) pending.push(definition.selectionSet);
  }
  for (let set = pending.pop(); set; set = pending.pop()) {
    count += set.selections.length;
    for (const selection of set.selections) {
      if (selection.kind !== Kind.FRAGMENT_SPREAD && selection.selectionSet) pending.push(selection.selectionSet);
    }
  }
  return count;
}

/** Lines as graphql-js counts them for error locations (\r\n, \n or \r end one). */
export function countLines(text: string): number {
  let lines = 1;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10 || (c === 13 && text.charCodeAt(i + 1) !== 10)) lines++;
  }
  return lines;
}

/** The document-size bounds, checked in linear time before any rule whose work grows faster than the document. */
function sizeError(document: DocumentNode): GraphQLError | undefined {
  const tooLarge = (message: string) => new GraphQLError(message, { extensions: { code: 'QUERY_TOO_LARGE' } });
  const lines = countLines(document.loc?.source.body ?? '');
  if (lines > MAX_LINES) return tooLarge(`Query has ${lines} lines, which exceeds max lines of ${MAX_LINES}`);
  const selections = countSelections(document);
  if (selections > MAX_SELECTIONS)
    return tooLarge(`Query has ${selections} selections, which exceeds max selections of ${MAX_SELECTIONS}`);
  return undefined;
}

export const VALIDATION_RULES: readonly ValidationRule[] = [...specifiedRules, queryLimitsRule(DEFAULT_QUERY_LIMITS)];

/** What the endpoint runs between parse and execute: the size bounds, then graphql-js's rules and the limits. */
export function validateQuery(schema: GraphQLSchema, document: DocumentNode): readonly GraphQLError[] {
  const tooLarge = sizeError(document);
  return tooLarge ? [tooLarge] : validate(schema, document, VALIDATION_RULES, { maxErrors: MAX_VALIDATION_ERRORS });
}
