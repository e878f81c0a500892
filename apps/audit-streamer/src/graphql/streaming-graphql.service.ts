import { NamespaceRow } from '@audit/audit-mapping';
import { CommandMetadata } from '@audit/contracts';
import { NotFoundError, PermissionDeniedError, Principal, ValidationError } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { DestinationHeadersService } from '../destinations/destination-headers.service';
import { groupScope } from '../destinations/destination-events';
import {
  CreateDestinationSchema,
  CreateHeaderSchema,
  DestinationView,
  HeaderView,
  UpdateHeaderSchema,
} from '../destinations/destination.schemas';
import { DestinationsRepository } from '../destinations/destinations.repository';
import { DestinationsService } from '../destinations/destinations.service';
import { DestinationOwner, GroupAccess } from '../destinations/group-access.service';
import { NamespacesRepository } from '@audit/namespaces';
import { fieldMessages } from './graphql-errors';
import { parseGlobalId } from './global-id';
import { z } from 'zod';

/** A destination as the GraphQL types resolve it: the REST view and its group. */
export interface DestinationNode {
  view: DestinationView;
  group: NamespaceRow;
}

const destinationNotFound = () => new NotFoundError('Streaming destination not found');
const headerNotFound = () => new NotFoundError('Streaming header not found');

/** Zod-validated input, or a ValidationError with one message per problem (GraphQL argument names). */
function parseArgs<S extends z.ZodTypeAny>(schema: S, input: Record<string, unknown>): z.infer<S> {
  const defined = Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined && v !== null));
  const parsed = schema.safeParse(defined);
  if (parsed.success) return parsed.data;
  const fields = parsed.error.issues.map((i) => ({ field: i.path.join('.') || 'input', message: i.message }));
  throw new ValidationError(fieldMessages(fields).join('; '), fields);
}

/**
 * The GraphQL operations over the REST side's services, so both APIs share one store, one validation,
 * one set of permission rules (GroupAccess) and the same audit events. Only the addressing differs:
 * GraphQL names a destination or header by global id, so its group is looked up first.
 */
@Injectable()
export class StreamingGraphqlService {
  constructor(
    private readonly destinations: DestinationsService,
    private readonly headers: DestinationHeadersService,
    private readonly access: GroupAccess,
    private readonly namespaces: NamespacesRepository,
    private readonly repository: DestinationsRepository,
  ) {}

  /** A group the caller has any role on (or every group for admins and auditors); null otherwise. */
  async group(fullPath: string, principal: Principal): Promise<NamespaceRow | null> {
    const group = await this.namespaces.findGroup(fullPath);
    if (!group || !(principal.auditor || principal.hasRole(group.full_path, 'guest'))) return null;
    return group;
  }

  /** Owners of a top-level group only (PermissionDeniedError otherwise); a subgroup has none. */
  async destinationsOf(group: NamespaceRow, principal: Principal): Promise<DestinationNode[]> {
    let owner: DestinationOwner;
    try {
      owner = await this.access.group(String(group.id), principal);
    } catch (err) {
      if (err instanceof ValidationError) return [];
      throw err;
    }
    return (await this.destinations.list(owner)).map((view) => ({ view, group }));
  }

  async createDestination(
    principal: Principal,
    meta: CommandMetadata,
    args: { groupPath: string; destinationUrl: string; name?: string | null },
  ): Promise<{ destination: DestinationNode; signingSecret: string }> {
    const input = parseArgs(CreateDestinationSchema, { destination_url: args.destinationUrl, name: args.name });
    const group = await this.access.ownedTopLevelGroup(args.groupPath, principal).catch((err: unknown) => {
      // An unknown group is refused like one the caller does not own: GitLab's answer, which leaks nothing.
      throw err instanceof NotFoundError ? new PermissionDeniedError(err.message) : err;
    });
    const owner = { groupId: group.id, scope: groupScope(group.id, group.full_path) };
    const { signing_secret: signingSecret, ...view } = await this.destinations.create(owner, input, meta);
    return { destination: { view, group }, signingSecret };
  }

  async destroyDestination(principal: Principal, meta: CommandMetadata, id: string): Promise<void> {
    const { owner, destinationId } = await this.destinationOwner(principal, id);
    await this.destinations.remove(owner, String(destinationId), meta);
  }

  async createHeader(
    principal: Principal,
    meta: CommandMetadata,
    args: { destinationId: string; key: string; value: string },
  ): Promise<HeaderView> {
    const input = parseArgs(CreateHeaderSchema, { key: args.key, value: args.value });
    const { owner, destinationId } = await this.destinationOwner(principal, args.destinationId);
    return this.headers.add(owner, String(destinationId), input, meta);
  }

  async updateHeader(
    principal: Principal,
    meta: CommandMetadata,
    args: { headerId: string; key?: string | null; value?: string | null },
  ): Promise<HeaderView> {
    const input = parseArgs(UpdateHeaderSchema, { key: args.key, value: args.value });
    const { owner, destinationId, headerId } = await this.headerOwner(principal, args.headerId);
    return this.headers.update(owner, String(destinationId), String(headerId), input, meta);
  }

  async destroyHeader(principal: Principal, meta: CommandMetadata, id: string): Promise<void> {
    const { owner, destinationId, headerId } = await this.headerOwner(principal, id);
    await this.headers.remove(owner, String(destinationId), String(headerId), meta);
  }

  /**
   * The owner of the destination a gid names. A destination of a group the caller does not own is
   * "not found" like an unknown one, as REST answers 404 for another group's destination: a gid alone
   * must not tell whether it exists.
   */
  private async destinationOwner(
    principal: Principal,
    gid: string,
  ): Promise<{ owner: DestinationOwner; destinationId: number }> {
    const destinationId = parseGlobalId(gid, 'destination');
    if (destinationId === null)
      throw new ValidationError(`${JSON.stringify(gid)} is not a valid global id of a streaming destination`);
    const groupId = await this.repository.groupOfDestination(destinationId);
    if (groupId === null) throw destinationNotFound();
    return { owner: await this.ownerOr(principal, groupId, destinationNotFound), destinationId };
  }

  private async headerOwner(
    principal: Principal,
    gid: string,
  ): Promise<{ owner: DestinationOwner; destinationId: number; headerId: number }> {
    const headerId = parseGlobalId(gid, 'header');
    if (headerId === null)
      throw new ValidationError(`${JSON.stringify(gid)} is not a valid global id of a streaming header`);
    const found = await this.repository.ownerOfHeader(headerId);
    if (!found) throw headerNotFound();
    return {
      owner: await this.ownerOr(principal, found.groupId, headerNotFound),
      destinationId: found.destinationId,
      headerId,
    };
  }

  private async ownerOr(
    principal: Principal,
    groupId: number,
    notFound: () => NotFoundError,
  ): Promise<DestinationOwner> {
    try {
      return await this.access.group(String(groupId), principal);
    } catch (err) {
      if (err instanceof PermissionDeniedError || err instanceof NotFoundError) throw notFound();
      throw err;
    }
  }
}
