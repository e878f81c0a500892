import {
  ConflictError,
  IllegalStateError,
  NotFoundError,
  PermissionDeniedError,
  UnprocessableError,
  ValidationError,
  AuthenticationError,
} from '@audit/platform';
import { GraphQLError } from 'graphql';
import { formatErrors, payloadErrors, RESOURCE_NOT_AVAILABLE, topLevelError } from './graphql-errors';

describe('GraphQL error mapping', () => {
  it('turns refusals into payload `errors` entries, with GraphQL argument names', () => {
    expect(payloadErrors(new ValidationError('the limit of 20 custom headers per destination is reached'))).toEqual([
      'the limit of 20 custom headers per destination is reached',
    ]);
    expect(payloadErrors(new ValidationError('destination_url is blocked: no'))).toEqual([
      'destinationUrl is blocked: no',
    ]);
    expect(payloadErrors(new NotFoundError('Streaming destination not found'))).toEqual([
      'Streaming destination not found',
    ]);
    expect(payloadErrors(new ConflictError('c'))).toEqual(['c']);
    expect(payloadErrors(new UnprocessableError('u'))).toEqual(['u']);
    expect(payloadErrors(new IllegalStateError('i'))).toEqual(['i']);
  });

  it('leaves authorization, authentication and unexpected errors to the top level', () => {
    expect(payloadErrors(new PermissionDeniedError('no'))).toBeNull();
    expect(payloadErrors(new AuthenticationError('no'))).toBeNull();
    expect(payloadErrors(new Error('boom'))).toBeNull();
    const denied = topLevelError(
      new PermissionDeniedError('Streaming destinations are managed by owners of the group'),
    ) as GraphQLError;
    expect(denied.message).toBe(RESOURCE_NOT_AVAILABLE);
    expect(denied.extensions).toEqual({ code: 'RESOURCE_NOT_AVAILABLE' });
    expect((topLevelError(new AuthenticationError('Invalid token')) as GraphQLError).extensions).toEqual({
      code: 'UNAUTHENTICATED',
    });
  });

  it('hides an unexpected resolver error behind an opaque message and reports it', () => {
    const internal = new GraphQLError('password authentication failed for user x', {
      path: ['group'],
      originalError: new Error('db'),
    });
    const ours = new GraphQLError(RESOURCE_NOT_AVAILABLE, {
      path: ['group'],
      originalError: new GraphQLError('x'),
      extensions: { code: 'RESOURCE_NOT_AVAILABLE' },
    });
    const validation = new GraphQLError('Cannot query field "x" on type "Query".');
    const reported: unknown[] = [];
    const formatted = formatErrors([internal, ours, validation], (err) => reported.push(err));
    expect(formatted.map((e) => e.message)).toEqual([
      'Internal server error',
      RESOURCE_NOT_AVAILABLE,
      'Cannot query field "x" on type "Query".',
    ]);
    expect(formatted[0].extensions).toEqual({ code: 'INTERNAL_SERVER_ERROR' });
    expect(reported).toEqual([internal.originalError]);
  });
});
