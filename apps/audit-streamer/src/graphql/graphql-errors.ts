import {
  AuthenticationError,
  ConflictError,
  DomainError,
  IllegalStateError,
  NotFoundError,
  PermissionDeniedError,
  UnprocessableError,
  ValidationError,
} from '@audit/platform';
import { GraphQLError, GraphQLFormattedError } from 'graphql';

/*
 * How the platform's domain errors reach a GraphQL client. Refusals of a valid request (bad input,
 * limits, duplicates, unknown ids) are entries of the mutation payload's `errors`, with a 200, as seed
 * 001 documents. Authorization is a top-level error with GitLab's message, which does not say whether
 * the thing exists. Anything else is a top-level "Internal server error", logged, never shown.
 */

/** GitLab's Gitlab::Graphql::Errors::ResourceNotAvailable message, word for word. */
export const RESOURCE_NOT_AVAILABLE =
  "The resource that you are attempting to access does not exist or you don't have permission to perform this action";

export const resourceNotAvailable = (): GraphQLError =>
  new GraphQLError(RESOURCE_NOT_AVAILABLE, { extensions: { code: 'RESOURCE_NOT_AVAILABLE' } });

export const unauthenticated = (message: string): GraphQLError =>
  new GraphQLError(message, { extensions: { code: 'UNAUTHENTICATED' } });

const BUSINESS_ERRORS = [ValidationError, NotFoundError, ConflictError, UnprocessableError, IllegalStateError];

/** REST field names in messages, as the GraphQL arguments call them. */
const ARGUMENT_NAMES: Record<string, string> = {
  destination_url: 'destinationUrl',
  event_type_filters: 'eventTypeFilters',
};
const argumentName = (field: string): string => ARGUMENT_NAMES[field] ?? field;

/** The `errors` entries for a refused mutation, or null when `err` is not a refusal (it is thrown on). */
export function payloadErrors(err: unknown): string[] | null {
  if (!BUSINESS_ERRORS.some((type) => err instanceof type)) return null;
  const error = err as DomainError;
  const [first] = Object.keys(ARGUMENT_NAMES).filter((field) => error.message.startsWith(`${field} `));
  return [first ? `${argumentName(first)}${error.message.slice(first.length)}` : error.message];
}

/** One entry per problem of a zod-style field list (the input validation of this API). */
export function fieldMessages(fields: Array<{ field: string; message: string }>): string[] {
  return fields.map((f) => `${argumentName(f.field)} ${f.message}`);
}

/** What a resolver throws for an error that is not a payload entry. */
export function topLevelError(err: unknown): unknown {
  if (err instanceof PermissionDeniedError) return resourceNotAvailable();
  if (err instanceof AuthenticationError) return unauthenticated(err.message);
  return err;
}

/**
 * Formats the errors of a result: GraphQL errors (syntax, validation, ours) as they are; an
 * unexpected error thrown by a resolver as an opaque message, reported to `onInternal` for the log.
 */
export function formatErrors(
  errors: readonly GraphQLError[],
  onInternal: (err: unknown) => void,
): GraphQLFormattedError[] {
  return errors.map((error) => {
    const original = error.originalError;
    if (error.path && original && !(original instanceof GraphQLError)) {
      onInternal(original);
      return {
        message: 'Internal server error',
        locations: error.locations,
        path: error.path,
        extensions: { code: 'INTERNAL_SERVER_ERROR' },
      };
    }
    return error.toJSON();
  });
}
