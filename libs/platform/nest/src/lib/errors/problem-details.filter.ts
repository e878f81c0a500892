import { ArgumentsHost, Catch, ExceptionFilter, HttpException, HttpStatus, Logger } from '@nestjs/common';
import { UniqueConstraintViolationException } from '@mikro-orm/core';
import type { Request, Response } from 'express';
import {
  AuthenticationError,
  ConflictError,
  DomainError,
  FieldProblem,
  IllegalStateError,
  NotFoundError,
  PermissionDeniedError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnprocessableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './domain-errors';

const STATUS: Array<[new (...args: never[]) => DomainError, number]> = [
  [ValidationError, 400],
  [AuthenticationError, 401],
  [PermissionDeniedError, 403],
  [NotFoundError, 404],
  [ConflictError, 409],
  [IllegalStateError, 409],
  [UnsupportedMediaTypeError, 415],
  [UnprocessableError, 422],
  [TooManyRequestsError, 429],
  [ServiceUnavailableError, 503],
];

export interface ProblemDetails {
  type: string;
  title: string;
  status: number;
  detail: string;
  instance?: string;
  code?: string;
  errors?: FieldProblem[];
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  429: 'Too Many Requests',
  431: 'Request Header Fields Too Large',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
};

/** Maps any thrown value to an RFC 9457 problem; unknown errors become an opaque 500 and are logged. */
export function toProblem(error: unknown): ProblemDetails {
  if (error instanceof DomainError) {
    const status = STATUS.find(([type]) => error instanceof type)?.[1] ?? 500;
    return problem(status, error.message, error.code, error.fields);
  }
  // Last line of defence for races that passed a service's own check: a conflict, not a crash.
  if (error instanceof UniqueConstraintViolationException) {
    return problem(409, 'The resource was changed concurrently or already exists', 'conflict');
  }
  if (error instanceof HttpException) {
    const status = error.getStatus();
    const response = error.getResponse();
    const detail =
      typeof response === 'string' ? response : String((response as { message?: unknown }).message ?? error.message);
    // Nest raises 400s itself only for requests it could not parse: the body, or a path segment.
    return problem(
      status,
      detail,
      undefined,
      status === 400
        ? [{ field: detail.startsWith('Failed to decode param') ? 'path' : 'body', message: detail }]
        : undefined,
    );
  }
  // Body-parser and router errors (malformed JSON, too large, bad charset, bad %-encoding) carry their own 4xx status.
  const status =
    (error as { status?: unknown; statusCode?: unknown })?.status ?? (error as { statusCode?: unknown })?.statusCode;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const [field, message] = offendingPart(error as Error & { type?: string; limit?: number });
    return problem(status, `${field} ${message}`, undefined, [{ field, message }]);
  }
  return problem(HttpStatus.INTERNAL_SERVER_ERROR, 'An unexpected error occurred');
}

/** Which part of the request a body-parser or router error is about, and what is wrong with it. */
function offendingPart(error: Error & { type?: string; limit?: number }): [string, string] {
  if (error instanceof URIError) return ['path', `is not valid percent-encoded UTF-8 (${error.message})`];
  switch (error.type) {
    case 'entity.parse.failed':
      return ['body', 'is not valid JSON'];
    case 'entity.too.large':
      return ['body', `is larger than ${error.limit ?? 'the limit of'} bytes`];
    case 'charset.unsupported':
      return ['Content-Type', `charset is not supported (${error.message})`];
    case 'encoding.unsupported':
      return ['Content-Encoding', `is not supported (${error.message})`];
    default:
      return ['body', error.message];
  }
}

/** Seconds a 429 or 503 asks the client to wait (RFC 9110 Retry-After), at least one. */
export function retryAfterOf(error: unknown): number | undefined {
  if (error instanceof TooManyRequestsError || error instanceof ServiceUnavailableError)
    return Math.max(1, Math.ceil(error.retryAfterS));
  return undefined;
}

function problem(status: number, detail: string, code?: string, errors?: FieldProblem[]): ProblemDetails {
  return {
    type: 'about:blank',
    title: TITLES[status] ?? 'Error',
    status,
    detail,
    ...(code ? { code } : {}),
    ...(errors && errors.length > 0 ? { errors } : {}),
  };
}

@Catch()
export class ProblemDetailsFilter implements ExceptionFilter {
  private readonly logger = new Logger(ProblemDetailsFilter.name);

  catch(error: unknown, host: ArgumentsHost): void {
    if (host.getType() !== 'http') throw error;
    const http = host.switchToHttp();
    const request = http.getRequest<Request>();
    const response = http.getResponse<Response>();
    const body = { ...toProblem(error), instance: request.originalUrl?.split('?')[0] };
    if (body.status >= 500 && !(error instanceof ServiceUnavailableError)) {
      this.logger.error({ err: error, path: body.instance }, 'unhandled error');
    }
    if (response.headersSent) {
      response.destroy();
      return;
    }
    const retryAfter = retryAfterOf(error);
    if (retryAfter !== undefined) response.setHeader('Retry-After', String(retryAfter));
    response.status(body.status).type('application/problem+json').send(JSON.stringify(body));
  }
}
