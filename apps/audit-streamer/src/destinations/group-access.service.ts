import { NotFoundError, PermissionDeniedError, Principal, ValidationError } from '@audit/platform';
import { Injectable } from '@nestjs/common';
import { NamespaceRow, rootPathOf } from '@audit/audit-mapping';
import { NamespacesRepository } from '../namespaces/namespaces.repository';

/** Resolves `:id` to a top-level group the caller owns, or throws the matching domain error. */
@Injectable()
export class GroupAccess {
  constructor(private readonly namespaces: NamespacesRepository) {}

  async ownedTopLevelGroup(idOrPath: string, principal: Principal): Promise<NamespaceRow> {
    const group = await this.namespaces.findGroup(idOrPath);
    if (!group) throw new NotFoundError('Group not found');
    if (!principal.hasRole(group.full_path, 'owner')) {
      throw new PermissionDeniedError('Streaming destinations are managed by owners of the group');
    }
    if (group.parent_id !== null) {
      const message = `destinations can only be added to a top-level group; use ${rootPathOf(group.full_path)}`;
      throw new ValidationError(message, [{ field: 'id', message }]);
    }
    return group;
  }
}
