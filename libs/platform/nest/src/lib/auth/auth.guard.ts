import { CanActivate, createParamDecorator, ExecutionContext, Inject, Injectable, SetMetadata } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { Request, Response } from 'express';
import { APP_CONFIG, LoadedConfig } from '../config/config';
import { AuthenticationError } from '../errors/domain-errors';
import { RequestRateLimiter } from '../http/rate-limit';
import { Principal } from './principal';
import { verifyToken } from './tokens';

const IS_PUBLIC = 'auth:public';

/** Marks a route that needs no token (health probes). */
export const Public = () => SetMetadata(IS_PUBLIC, true);

type AuthenticatedRequest = Request & { principal?: Principal };

/** Injects the authenticated caller into a handler parameter. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new AuthenticationError('Authentication required');
  return principal;
});

/**
 * Global guard: every route needs `Authorization: Bearer <HS256 JWT>` unless marked @Public(), and
 * counts against its user's rate limit. (A public route that authenticates itself, GraphQL, takes
 * from the same limiter.)
 */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    @Inject(APP_CONFIG) private readonly config: LoadedConfig,
    private readonly rateLimiter: RequestRateLimiter,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.reflector.getAllAndOverride<boolean>(IS_PUBLIC, [context.getHandler(), context.getClass()])) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new AuthenticationError('Missing bearer token');
    request.principal = verifyToken(match[1], this.config);
    await this.rateLimiter.take(request.principal, context.switchToHttp().getResponse<Response>());
    return true;
  }
}
