/**
 * The one error hierarchy of the platform. Services and domain code throw these; the HTTP edge
 * (ProblemDetailsFilter) is the only place that turns them into status codes.
 */
export interface FieldProblem {
  field: string;
  message: string;
}

export abstract class DomainError extends Error {
  abstract readonly code: string;
  constructor(
    message: string,
    readonly fields: FieldProblem[] = [],
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class ValidationError extends DomainError {
  readonly code = 'validation_failed';
}
export class AuthenticationError extends DomainError {
  readonly code = 'unauthenticated';
}
export class PermissionDeniedError extends DomainError {
  readonly code = 'forbidden';
}
export class NotFoundError extends DomainError {
  readonly code = 'not_found';
}
export class ConflictError extends DomainError {
  readonly code = 'conflict';
}
/** A request that is well-formed but refers to things that cannot be used (e.g. unknown milestones). */
export class UnprocessableError extends DomainError {
  readonly code = 'unprocessable';
}
/** A request body in a media type the route does not speak (everything here speaks JSON). */
export class UnsupportedMediaTypeError extends DomainError {
  readonly code = 'unsupported_media_type';
}
export class IllegalStateError extends DomainError {
  readonly code = 'illegal_state';
}

/** A limit of the caller's (requests per minute, exports at once); `retryAfterS` says when to try again. */
export class TooManyRequestsError extends DomainError {
  readonly code = 'too_many_requests';
  constructor(
    message: string,
    readonly retryAfterS: number,
    fields: FieldProblem[] = [],
  ) {
    super(message, fields);
  }
}

/** The service cannot do it now without breaking a guarantee (e.g. an export it cannot record); try later. */
export class ServiceUnavailableError extends DomainError {
  readonly code = 'unavailable';
  constructor(
    message: string,
    readonly retryAfterS: number,
  ) {
    super(message);
  }
}
