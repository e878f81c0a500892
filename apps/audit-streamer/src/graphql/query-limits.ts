import {
  ASTVisitor, FragmentDefinitionNode, getNamedType, GraphQLError, GraphQLNamedType, GraphQLSchema, isListType,
  isNonNullType, isObjectType, isInterfaceType, Kind, OperationDefinitionNode, SelectionSetNode, GraphQLOutputType,
  ValidationContext, ValidationRule,
} from 'graphql';

/*
 * Depth and cost limits as validation rules: a query over the limits is refused before any resolver
 * runs. Written here rather than taken from a package: graphql-depth-limit and graphql-validation-
 * complexity are unmaintained (and the latter predates graphql 16), graphql-query-complexity needs
 * per-field estimators we would write anyway, and the whole thing is one small recursive walk.
 *
 * Both skip introspection fields (`__schema`, `__type`, `__typename`): their size is bounded by the
 * schema, and the standard introspection query of GraphiQL is deeper than any real query.
 */

export interface QueryLimits {
  maxDepth: number;
  maxCost: number;
  /** What a list field counts as: its items' cost times this (the largest page, or the largest list). */
  listSize: number;
}

/** A depth of 8 holds every query of seed 001 (the deepest has 6); the cost limit holds the widest query of this schema. */
export const DEFAULT_QUERY_LIMITS: QueryLimits = { maxDepth: 8, maxCost: 2000, listSize: 20 };

interface Measure {
  depth: number;
  cost: number;
}

/** Depth and cost of one operation; fragments are followed (a cycle stops, NoFragmentCycles reports it). */
export function measureOperation(context: ValidationContext, operation: OperationDefinitionNode, listSize: number): Measure {
  const schema = context.getSchema();
  const root = schema.getRootType(operation.operation) ?? undefined;
  return measureSelections(context, schema, operation.selectionSet, root, listSize, new Set());
}

function measureSelections(
  context: ValidationContext,
  schema: GraphQLSchema,
  selectionSet: SelectionSetNode,
  parent: GraphQLNamedType | undefined,
  listSize: number,
  fragments: Set<string>,
): Measure {
  let depth = 0;
  let cost = 0;
  for (const selection of selectionSet.selections) {
    let m: Measure;
    if (selection.kind === Kind.FIELD) {
      if (selection.name.value.startsWith('__')) continue;
      m = measureField(context, schema, selection.name.value, selection.selectionSet, parent, listSize, fragments);
    } else if (selection.kind === Kind.INLINE_FRAGMENT) {
      const type = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
      m = measureSelections(context, schema, selection.selectionSet, type, listSize, fragments);
    } else {
      const name = selection.name.value;
      const fragment: FragmentDefinitionNode | null | undefined = context.getFragment(name);
      if (!fragment || fragments.has(name)) continue;
      const type = schema.getType(fragment.typeCondition.name.value);
      m = measureSelections(context, schema, fragment.selectionSet, type, listSize, new Set([...fragments, name]));
    }
    depth = Math.max(depth, m.depth);
    cost += m.cost;
  }
  return { depth, cost };
}

function measureField(
  context: ValidationContext,
  schema: GraphQLSchema,
  name: string,
  selectionSet: SelectionSetNode | undefined,
  parent: GraphQLNamedType | undefined,
  listSize: number,
  fragments: Set<string>,
): Measure {
  const field = parent && (isObjectType(parent) || isInterfaceType(parent)) ? parent.getFields()[name] : undefined;
  if (!field || !selectionSet) return { depth: 1, cost: 1 };
  const inner = measureSelections(context, schema, selectionSet, getNamedType(field.type), listSize, fragments);
  return { depth: inner.depth + 1, cost: 1 + inner.cost * (returnsList(field.type) ? listSize : 1) };
}

function returnsList(type: GraphQLOutputType): boolean {
  return isListType(isNonNullType(type) ? type.ofType : type);
}

/** Refuses an operation nested deeper than `maxDepth` fields (GitLab's wording). */
export function depthLimitRule(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const { depth } = measureOperation(context, operation, limits.listSize);
      if (depth > limits.maxDepth) {
        context.reportError(
          new GraphQLError(`Query has depth of ${depth}, which exceeds max depth of ${limits.maxDepth}`, {
            nodes: [operation],
            extensions: { code: 'QUERY_TOO_DEEP' },
          }),
        );
      }
    },
  });
}

/** Refuses an operation costing more than `maxCost`: one per field, a list's items times `listSize`. */
export function costLimitRule(limits: QueryLimits = DEFAULT_QUERY_LIMITS): ValidationRule {
  return (context: ValidationContext): ASTVisitor => ({
    OperationDefinition(operation) {
      const { cost } = measureOperation(context, operation, limits.listSize);
      if (cost > limits.maxCost) {
        context.reportError(
          new GraphQLError(`Query has complexity of ${cost}, which exceeds max complexity of ${limits.maxCost}`, {
            nodes: [operation],
            extensions: { code: 'QUERY_TOO_COMPLEX' },
          }),
        );
      }
    },
  });
}
