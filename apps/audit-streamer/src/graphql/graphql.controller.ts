import {
  APP_CONFIG,
  AuthenticationError,
  ChecksOwnMediaType,
  clientIp,
  correlationId,
  Principal,
  Public,
  RequestRateLimiter,
  TooManyRequestsError,
  verifyToken,
} from '@audit/platform';
import { Controller, Get, HttpCode, Inject, Logger, Post, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { execute, GraphQLError, GraphQLFormattedError, GraphQLSchema, parse } from 'graphql';
import { AuditStreamerConfig } from '../config';
import { formatErrors, unauthenticated } from './graphql-errors';
import { checkTransport, isRefusal, MAX_TOKENS, readGraphqlBody, RequestRefusal } from './graphql-request';
import { validateQuery } from './query-limits';
import { createStreamingSchema, GraphqlContext } from './resolvers';
import { StreamingGraphqlService } from './streaming-graphql.service';

interface GraphqlResponse {
  data?: unknown;
  errors?: GraphQLFormattedError[];
}

/**
 * `POST /api/graphql`. @Public() because the platform guard answers a missing or bad token with a
 * problem+json 401, and a GraphQL client expects a GraphQL response: the token is checked here, with
 * the same verifyToken and secret, and a failure is a 401 whose body is `{errors: [{message,
 * extensions: {code: 'UNAUTHENTICATED'}}]}` (GitLab answers an invalid token with 401 and such a body).
 */
@Controller('api/graphql')
export class GraphqlController {
  private readonly logger = new Logger(GraphqlController.name);
  private readonly schema: GraphQLSchema = createStreamingSchema();

  constructor(
    private readonly api: StreamingGraphqlService,
    @Inject(APP_CONFIG) private readonly config: AuditStreamerConfig,
    private readonly rateLimiter: RequestRateLimiter,
  ) {}

  @Public()
  @ChecksOwnMediaType()
  @Post()
  @HttpCode(200)
  async handle(@Req() req: Request, @Res({ passthrough: true }) res: Response): Promise<GraphqlResponse> {
    res.setHeader('Cache-Control', 'no-store');
    const transport = checkTransport(req);
    if (transport) return this.refuse(res, transport);
    const principal = this.authenticate(req);
    if (principal instanceof GraphQLError) {
      res.status(401).setHeader('WWW-Authenticate', 'Bearer');
      return { errors: [principal.toJSON()] };
    }
    const limited = await this.rateLimit(principal, res);
    if (limited) return this.refuse(res, limited);
    const body = readGraphqlBody(req.body);
    if (isRefusal(body)) return this.refuse(res, body);
    return this.run(body.query, body.variables, body.operationName, this.context(principal, req));
  }

  /** Not over GET: a GET must not change anything, and a query over GET would leak into logs. */
  @Public()
  @ChecksOwnMediaType()
  @Get()
  methodNotAllowed(@Res({ passthrough: true }) res: Response): GraphqlResponse {
    res.setHeader('Allow', 'POST');
    return this.refuse(res, {
      status: 405,
      code: 'METHOD_NOT_ALLOWED',
      message: 'GraphQL requests must be sent with POST',
    });
  }

  /** Parse, validate (the limits included: a refused query runs no resolver), execute. */
  private async run(
    query: string,
    variables: Record<string, unknown> | undefined,
    operationName: string | undefined,
    context: GraphqlContext,
  ): Promise<GraphqlResponse> {
    let document;
    try {
      document = parse(query, { maxTokens: MAX_TOKENS });
    } catch (err) {
      return { errors: [(err as GraphQLError).toJSON()] };
    }
    const invalid = validateQuery(this.schema, document);
    if (invalid.length > 0) return { errors: invalid.map((e) => e.toJSON()) };
    const result = await execute({
      schema: this.schema,
      document,
      variableValues: variables,
      operationName,
      contextValue: context,
    });
    const errors =
      result.errors && formatErrors(result.errors, (err) => this.logger.error({ err }, 'GraphQL resolver failed'));
    return errors ? { data: result.data, errors } : { data: result.data };
  }

  private authenticate(req: Request): Principal | GraphQLError {
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
    if (!match) return unauthenticated('Missing bearer token');
    try {
      return verifyToken(match[1], this.config);
    } catch (err) {
      if (err instanceof AuthenticationError) return unauthenticated(err.message);
      throw err;
    }
  }

  /** Who did it and from where, for the audit events of changes: the same as the REST controllers record. */
  private context(principal: Principal, req: Request): GraphqlContext {
    const actor = {
      id: principal.userId,
      name: principal.username,
      ip_address: clientIp(req, this.config.TRUSTED_PROXIES),
    };
    const correlation = correlationId(req);
    return { principal, api: this.api, meta: () => ({ actor, correlationId: correlation, now: new Date() }) };
  }

  /** The REST routes' per-user limit, answered in GraphQL's shape (429, Retry-After, an error with a code). */
  private async rateLimit(principal: Principal, res: Response): Promise<RequestRefusal | null> {
    try {
      await this.rateLimiter.take(principal, res);
      return null;
    } catch (err) {
      if (!(err instanceof TooManyRequestsError)) throw err;
      res.setHeader('Retry-After', String(err.retryAfterS));
      return { status: 429, code: 'RATE_LIMITED', message: err.message };
    }
  }

  private refuse(res: Response, refusal: RequestRefusal): GraphqlResponse {
    res.status(refusal.status);
    return { errors: [{ message: refusal.message, extensions: { code: refusal.code } }] };
  }
}
