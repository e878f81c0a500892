import { CallHandler, ExecutionContext, Injectable, NestInterceptor, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request } from 'express';
import { Observable } from 'rxjs';
import { UnsupportedMediaTypeError, ValidationError } from '../errors/domain-errors';
import { unstorableFields, unsupportedBody } from './request-hygiene';

const OWN_MEDIA_TYPE_CHECK = 'http:own-media-type-check';

/** A handler that answers a wrong Content-Type itself, in its own protocol's shape (GraphQL). */
export const ChecksOwnMediaType = () => SetMetadata(OWN_MEDIA_TYPE_CHECK, true);

/**
 * Global: refuses, before any handler runs, a body that is not UTF-8 JSON (415) and any path
 * parameter, query parameter or body field that cannot be stored (400 naming it). See request-hygiene.ts.
 */
@Injectable()
export class RequestHygieneInterceptor implements NestInterceptor {
  constructor(private readonly reflector: Reflector) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    if (context.getType() !== 'http') return next.handle();
    const req = context.switchToHttp().getRequest<Request>();
    if (!this.reflector.getAllAndOverride<boolean>(OWN_MEDIA_TYPE_CHECK, [context.getHandler(), context.getClass()])) {
      const media = unsupportedBody(req);
      if (media)
        throw new UnsupportedMediaTypeError(`Unsupported request body: Content-Type ${media.message}`, [media]);
    }
    const fields = [
      ...unstorableFields(req.params, 'path'),
      ...unstorableFields(req.query, 'query'),
      ...unstorableFields(req.body, 'body'),
    ];
    if (fields.length > 0)
      throw new ValidationError(`Invalid request: ${fields.map((f) => `${f.field} ${f.message}`).join('; ')}`, fields);
    return next.handle();
  }
}
