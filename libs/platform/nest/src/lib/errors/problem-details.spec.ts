import { BadRequestException } from '@nestjs/common';
import {
  ConflictError,
  NotFoundError,
  PermissionDeniedError,
  ServiceUnavailableError,
  TooManyRequestsError,
  UnprocessableError,
  UnsupportedMediaTypeError,
  ValidationError,
} from './domain-errors';
import { retryAfterOf, toProblem } from './problem-details.filter';

describe('toProblem', () => {
  it.each([
    [new ValidationError('bad', [{ field: 'tag_name', message: 'must not be empty' }]), 400],
    [new PermissionDeniedError('no'), 403],
    [new NotFoundError('gone'), 404],
    [new ConflictError('twice'), 409],
    [new UnprocessableError('milestones'), 422],
    [new TooManyRequestsError('slow down', 3), 429],
    [new ServiceUnavailableError('later', 5), 503],
  ])('maps %p to %i', (error, status) => {
    expect(toProblem(error).status).toBe(status);
  });

  it('keeps the offending fields', () => {
    expect(toProblem(new ValidationError('bad', [{ field: 'tag_name', message: 'must not be empty' }])).errors).toEqual(
      [{ field: 'tag_name', message: 'must not be empty' }],
    );
  });

  it('hides the message of an unexpected error behind a 500', () => {
    const problem = toProblem(new Error('password=hunter2 at db'));
    expect(problem.status).toBe(500);
    expect(JSON.stringify(problem)).not.toContain('hunter2');
  });

  it('maps unparseable bodies to 400 on the body field', () => {
    expect(toProblem(new BadRequestException('Unexpected token')).errors).toEqual([
      { field: 'body', message: 'Unexpected token' },
    ]);
    expect(toProblem(Object.assign(new SyntaxError('x'), { status: 400, type: 'entity.parse.failed' })).status).toBe(
      400,
    );
  });

  it('names the part of the request that body-parser or the router refused', () => {
    expect(
      toProblem(Object.assign(new Error('too big'), { status: 413, type: 'entity.too.large', limit: 1048576 })).errors,
    ).toEqual([{ field: 'body', message: 'is larger than 1048576 bytes' }]);
    expect(
      toProblem(Object.assign(new Error('unsupported charset "LATIN9"'), { status: 415, type: 'charset.unsupported' }))
        .errors?.[0].field,
    ).toBe('Content-Type');
    expect(
      toProblem(Object.assign(new URIError("Failed to decode param '%ff'"), { status: 400 })).errors?.[0].field,
    ).toBe('path');
  });

  it('maps a body in a media type nobody speaks to 415', () => {
    expect(
      toProblem(
        new UnsupportedMediaTypeError('text/plain', [{ field: 'Content-Type', message: 'must be application/json' }]),
      ).status,
    ).toBe(415);
  });

  it('asks a throttled caller to come back in whole seconds, and nobody else', () => {
    expect(retryAfterOf(new TooManyRequestsError('slow down', 0.2))).toBe(1);
    expect(retryAfterOf(new ServiceUnavailableError('later', 4.5))).toBe(5);
    expect(retryAfterOf(new ConflictError('twice'))).toBeUndefined();
  });
});
