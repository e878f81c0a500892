import { NamespaceRow } from '@audit/audit-mapping';
import { CommandMetadata } from '@audit/contracts';
import { Principal } from '@audit/platform';
import { makeExecutableSchema } from '@graphql-tools/schema';
import { GraphQLError, GraphQLScalarType, GraphQLSchema, Kind, ValueNode } from 'graphql';
import { HeaderView } from '../destinations/destination.schemas';
import { payloadErrors, topLevelError } from './graphql-errors';
import { toGlobalId } from './global-id';
import { DestinationNode, StreamingGraphqlService } from './streaming-graphql.service';
import { typeDefs } from './type-defs';

/** Per request: who asks, the metadata of the audit events their changes cause, and the operations. */
export interface GraphqlContext {
  principal: Principal;
  meta(): CommandMetadata;
  api: StreamingGraphqlService;
}

type Args<T> = { input: T & { clientMutationId?: string | null } };
type Payload<T> = (T | object) & { clientMutationId: string | null; errors: string[] };

/**
 * A mutation's payload: `errors` empty and `result`'s fields when it was made; a refusal as `errors`
 * entries (nothing changed); authorization and unexpected failures as top-level errors.
 */
async function mutation<T extends object>(args: Args<unknown>, work: () => Promise<T>): Promise<Payload<T>> {
  const clientMutationId = args.input.clientMutationId ?? null;
  try {
    return { clientMutationId, errors: [], ...(await work()) };
  } catch (err) {
    const errors = payloadErrors(err);
    if (errors) return { clientMutationId, errors };
    throw topLevelError(err);
  }
}

/**
 * The id scalars of GitLab's schema, so variables declared with these types work. They take any string:
 * a malformed gid is the mutation's `errors` entry (docs/contracts.md: every refusal is in `errors`), not a
 * validation failure of the whole request.
 */
const globalIdScalar = (name: string, model: string) =>
  new GraphQLScalarType<string, string>({
    name,
    description: `A global id: \`gid://gitlab/${model}/<id>\`.`,
    serialize: (value) => String(value),
    parseValue: (value) => {
      if (typeof value !== 'string') throw new GraphQLError(`${name} must be a string`);
      return value;
    },
    parseLiteral: (ast: ValueNode) => {
      if (ast.kind !== Kind.STRING) throw new GraphQLError(`${name} must be a string`, { nodes: [ast] });
      return ast.value;
    },
  });

const lastSegment = (fullPath: string): string => fullPath.slice(fullPath.lastIndexOf('/') + 1);

export const resolvers = {
  AuditEventsExternalAuditEventDestinationID: globalIdScalar(
    'AuditEventsExternalAuditEventDestinationID',
    'AuditEvents::ExternalAuditEventDestination',
  ),
  AuditEventsStreamingHeaderID: globalIdScalar('AuditEventsStreamingHeaderID', 'AuditEvents::Streaming::Header'),
  Query: {
    group: (_: unknown, args: { fullPath: string }, ctx: GraphqlContext) => ctx.api.group(args.fullPath, ctx.principal),
  },
  Group: {
    id: (g: NamespaceRow) => toGlobalId('group', g.id),
    // The namespaces read model keeps paths, not display names: a group's name is its last path segment.
    name: (g: NamespaceRow) => lastSegment(g.full_path),
    fullPath: (g: NamespaceRow) => g.full_path,
    externalAuditEventDestinations: async (g: NamespaceRow, _: unknown, ctx: GraphqlContext) => {
      try {
        return { nodes: await ctx.api.destinationsOf(g, ctx.principal) };
      } catch (err) {
        throw topLevelError(err);
      }
    },
  },
  ExternalAuditEventDestination: {
    id: (d: DestinationNode) => toGlobalId('destination', d.view.id),
    name: (d: DestinationNode) => d.view.name,
    destinationUrl: (d: DestinationNode) => d.view.destination_url,
    verificationToken: (d: DestinationNode) => d.view.verification_token,
    eventTypeFilters: (d: DestinationNode) => d.view.event_type_filters,
    active: (d: DestinationNode) => d.view.active,
    group: (d: DestinationNode) => d.group,
    headers: (d: DestinationNode) => ({ nodes: d.view.headers }),
  },
  AuditEventStreamingHeader: {
    id: (h: HeaderView) => toGlobalId('header', h.id),
  },
  Mutation: {
    externalAuditEventDestinationCreate: (
      _: unknown,
      args: Args<{ groupPath: string; destinationUrl: string; name?: string | null }>,
      ctx: GraphqlContext,
    ) =>
      mutation(args, async () => {
        const { destination, signingSecret } = await ctx.api.createDestination(ctx.principal, ctx.meta(), args.input);
        return { externalAuditEventDestination: destination, signingSecret };
      }),
    externalAuditEventDestinationDestroy: (_: unknown, args: Args<{ id: string }>, ctx: GraphqlContext) =>
      mutation(args, async () => {
        await ctx.api.destroyDestination(ctx.principal, ctx.meta(), args.input.id);
        return {};
      }),
    auditEventsStreamingHeadersCreate: (
      _: unknown,
      args: Args<{ destinationId: string; key: string; value: string }>,
      ctx: GraphqlContext,
    ) => mutation(args, async () => ({ header: await ctx.api.createHeader(ctx.principal, ctx.meta(), args.input) })),
    auditEventsStreamingHeadersUpdate: (
      _: unknown,
      args: Args<{ headerId: string; key?: string | null; value?: string | null }>,
      ctx: GraphqlContext,
    ) => mutation(args, async () => ({ header: await ctx.api.updateHeader(ctx.principal, ctx.meta(), args.input) })),
    auditEventsStreamingHeadersDestroy: (_: unknown, args: Args<{ headerId: string }>, ctx: GraphqlContext) =>
      mutation(args, async () => {
        await ctx.api.destroyHeader(ctx.principal, ctx.meta(), args.input.headerId);
        return {};
      }),
  },
};

/** The executable schema; pure (no Nest), so print-schema.ts and the unit tests build the same one. */
export function createStreamingSchema(): GraphQLSchema {
  return makeExecutableSchema({ typeDefs, resolvers });
}
