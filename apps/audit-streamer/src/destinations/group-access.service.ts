import { NotFoundError, PermissionDeniedError, Principal, ValidationError } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { NamespaceRow, rootPathOf } from '@audit/audit-mapping';
import { NamespacesRepository } from '@audit/namespaces';
import { groupScope, INSTANCE_SCOPE } from './destination-events';
import { Scope } from '@audit/contracts';

/** Whose destinations a request manages: a top-level group's (groupId) or the instance's (null). */
export interface DestinationOwner {
  groupId: number | null;
  /** The scope of the audit events that record changes to these destinations. */
  scope: Scope;
}

/** Resolves who owns the destinations a request addresses, or throws the matching domain error. */
@Injectable()
export class GroupAccess {
  constructor(private readonly namespaces: NamespacesRepository) {}

  async ownedTopLevelGroup(idOrPath: string, principal: Principal): Promise<NamespaceRow> {
    const group = await this.namespaces.findGroup(idOrPath);
    // No role at all: the answer of a group that does not exist, so ids cannot be probed for existence.
    if (!group || !principal.canSee(group.full_path)) throw new NotFoundError('Group not found');
    if (!principal.hasRole(group.full_path, 'owner')) {
      throw new PermissionDeniedError('Streaming destinations are managed by owners of the group');
    }
    if (group.parent_id !== null) {
      const message = `destinations can only be added to a top-level group; use ${rootPathOf(group.full_path)}`;
      throw new ValidationError(message, [{ field: 'id', message }]);
    }
    return group;
  }

  async group(idOrPath: string, principal: Principal): Promise<DestinationOwner> {
    const group = await this.ownedTopLevelGroup(idOrPath, principal);
    return { groupId: group.id, scope: groupScope(group.id, group.full_path) };
  }

  /** Instance-level destinations are managed by administrators only. */
  instance(principal: Principal): DestinationOwner {
    if (!principal.admin)
      throw new PermissionDeniedError('Instance-level streaming destinations are managed by administrators');
    return { groupId: null, scope: INSTANCE_SCOPE };
  }
}
