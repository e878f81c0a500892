import { Injectable } from '@nestjs/common';
import { Scope } from '@audit/contracts';
import { NamespacesRepository } from '@audit/namespaces';
import { NotFoundError, PermissionDeniedError, Principal } from '@audit/platform';
import { AuditEventsRepository } from './audit-events.repository';
import { AuditScope } from './audit-events.sql';

/** A resolved scope and a name for it (used in export file names). */
export interface ResolvedScope {
  scope: AuditScope;
  label: string;
  /** The scope of the export's own audit event. */
  subject: Scope;
}

/**
 * Who may read which audit events, shared by the list routes and the exports so both answer the same
 * 401/403/404 before anything is read. Admins pass `hasRole` everywhere; auditors read everything.
 * A caller with no role on a group or project gets the 404 of an unknown one: a 403 told them it
 * exists, and named its full path.
 */
@Injectable()
export class AuditScopeResolver {
  constructor(
    private readonly namespaces: NamespacesRepository,
    private readonly auditEvents: AuditEventsRepository,
  ) {}

  instance(principal: Principal): ResolvedScope {
    if (!principal.admin && !principal.auditor)
      throw new PermissionDeniedError('Instance audit events are for administrators and auditors');
    return {
      scope: { kind: 'instance' },
      label: 'instance',
      subject: { entity_type: 'Instance', entity_id: 1, entity_path: 'instance' },
    };
  }

  /** The group and everything under it (resolved once, so an export sees one tree throughout), for owners of the group or of an ancestor. */
  async group(idOrPath: string, principal: Principal): Promise<ResolvedScope> {
    const group = await this.namespaces.find('Group', idOrPath);
    // Someone with no role on it is told what someone naming a group that does not exist is told.
    if (!group || !principal.canSee(group.full_path)) throw new NotFoundError(`Group ${idOrPath} not found`);
    if (!principal.auditor && !principal.hasRole(group.full_path, 'owner'))
      throw new PermissionDeniedError(`Requires the owner role on ${group.full_path}`);
    return {
      scope: await this.auditEvents.treeOf(group.id),
      label: `group_${group.id}`,
      subject: { entity_type: 'Group', entity_id: group.id, entity_path: group.full_path },
    };
  }

  async project(idOrPath: string, principal: Principal): Promise<ResolvedScope> {
    const project = await this.namespaces.find('Project', idOrPath);
    if (!project || !principal.canSee(project.full_path)) throw new NotFoundError(`Project ${idOrPath} not found`);
    if (!principal.auditor && !principal.hasRole(project.full_path, 'maintainer'))
      throw new PermissionDeniedError(`Requires the maintainer role on ${project.full_path}`);
    return {
      scope: { kind: 'entity', entityType: 'Project', entityId: project.id },
      label: `project_${project.id}`,
      subject: { entity_type: 'Project', entity_id: project.id, entity_path: project.full_path },
    };
  }
}
