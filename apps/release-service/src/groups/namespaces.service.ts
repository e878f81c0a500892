import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { CommandMetadata, DomainEvent, DomainEventOf, Scope } from '@audit/contracts';
import { NotFoundError, PermissionDeniedError, Principal, Role, ValidationError } from '@audit/platform';
import { raw } from '@mikro-orm/core';
import { LRUCache } from 'lru-cache';
import { CommandHandler } from '../event-store/command-handler';
import { IdSequence } from '../event-store/id-allocator';
import { Group, GroupEntity, Project, ProjectEntity } from './namespace.entities';
import { NamespaceCommand, namespaceDecider } from './namespace.decider';
import { groupOf, projectNamespace, projectOf } from './namespace.projection';

/** `:id` of the API: a numeric id or a (URL-decoded) full path, matched case-insensitively by the unique index on lower(full_path). */
const byIdOrPath = (idOrPath: string) =>
  /^\d{1,9}$/.test(idOrPath) ? { id: Number(idOrPath) } : { [raw('lower(full_path)')]: idOrPath.toLowerCase() };

/** The scope of the events of everything in a project (its releases, its milestones). */
export const projectScope = (project: Project): Scope => ({
  entity_type: 'Project',
  entity_id: project.id,
  entity_path: project.fullPath,
});

@Injectable()
export class NamespacesService {
  constructor(
    private readonly em: EntityManager,
    private readonly commands: CommandHandler,
  ) {}

  /**
   * Projects are never renamed, moved or deleted here, so a found project can be remembered: the
   * hot path (every release request) then skips a query. Permissions come from the token, not from this.
   */
  private readonly projects = new LRUCache<string, Project>({ max: 10_000 });

  async findProject(idOrPath: string, principal: Principal, minimum: Role): Promise<Project> {
    const key = idOrPath.toLowerCase();
    const project = this.projects.get(key) ?? (await this.em.fork().findOne(ProjectEntity, byIdOrPath(idOrPath)));
    if (!project) throw new NotFoundError(`Project ${idOrPath} not found`);
    this.projects.set(key, project);
    if (!principal.hasRole(project.fullPath, minimum)) {
      // Below reporter a caller may not even learn that the project exists.
      if (!principal.hasRole(project.fullPath, 'reporter')) throw new NotFoundError(`Project ${idOrPath} not found`);
      throw new PermissionDeniedError(`Requires the ${minimum} role on ${project.fullPath}`);
    }
    return project;
  }

  async createGroup(
    input: { path: string; name: string; parent_id?: number },
    principal: Principal,
    meta: CommandMetadata,
  ): Promise<Group> {
    const em = this.em.fork();
    const parent = input.parent_id === undefined ? null : await em.findOne(GroupEntity, { id: input.parent_id });
    // A parent the caller has no role on is one they may not learn exists: the answer of an unknown one.
    if (input.parent_id !== undefined && (!parent || !principal.canSee(parent.fullPath)))
      throw new NotFoundError(`Parent group ${input.parent_id} not found`, [
        { field: 'parent_id', message: 'does not exist' },
      ]);
    if (parent ? !principal.hasRole(parent.fullPath, 'owner') : !principal.admin) {
      throw new PermissionDeniedError(
        parent ? `Requires the owner role on ${parent.fullPath}` : 'Only administrators create top-level groups',
      );
    }
    const fullPath = parent ? `${parent.fullPath}/${input.path}` : input.path;
    await this.assertPathFree(em, fullPath);
    const created = await this.create('Group', 'group_ids', fullPath, meta, (groupId) => ({
      type: 'CreateGroup',
      data: { groupId, path: input.path, name: input.name, parent },
    }));
    return groupOf(created as DomainEventOf<'GroupCreated'>);
  }

  async createProject(
    input: { path: string; name: string; namespace_id: number },
    principal: Principal,
    meta: CommandMetadata,
  ): Promise<Project> {
    const em = this.em.fork();
    const group = await em.findOne(GroupEntity, { id: input.namespace_id });
    if (!group || !principal.canSee(group.fullPath))
      throw new NotFoundError(`Group ${input.namespace_id} not found`, [
        { field: 'namespace_id', message: 'does not exist' },
      ]);
    if (!principal.hasRole(group.fullPath, 'owner'))
      throw new PermissionDeniedError(`Requires the owner role on ${group.fullPath}`);
    const fullPath = `${group.fullPath}/${input.path}`;
    await this.assertPathFree(em, fullPath);
    const created = await this.create('Project', 'project_ids', fullPath, meta, (projectId) => ({
      type: 'CreateProject',
      data: { projectId, path: input.path, name: input.name, namespace: group },
    }));
    return projectOf(created as DomainEventOf<'ProjectCreated'>);
  }

  /**
   * Groups and projects are never moved or deleted, so what was read above still holds: a new
   * stream, one autocommitted statement; the unique index on the path settles a concurrent creation.
   */
  private create(
    type: 'Group' | 'Project',
    sequence: IdSequence,
    fullPath: string,
    meta: CommandMetadata,
    command: (id: number) => NamespaceCommand,
  ): Promise<DomainEvent> {
    return this.commands.handleCommand({
      decider: namespaceDecider,
      aggregateType: type,
      stream: { sequence },
      // A group's or a project's events are scoped to itself.
      scope: (id) => ({ entity_type: type, entity_id: id, entity_path: fullPath }),
      meta,
      command: ({ id }) => command(id),
      project: projectNamespace,
      uniqueViolations: { groups_full_path: () => pathTaken(fullPath), projects_full_path: () => pathTaken(fullPath) },
      result: ({ events }) => events[0],
    });
  }

  /** Groups and projects share one path space, as they do in the URLs that name them. */
  private async assertPathFree(em: EntityManager, fullPath: string): Promise<void> {
    const taken =
      (await em.count(GroupEntity, byIdOrPath(fullPath))) + (await em.count(ProjectEntity, byIdOrPath(fullPath)));
    if (taken > 0) throw pathTaken(fullPath);
  }
}

const pathTaken = (fullPath: string) =>
  new ValidationError(`${fullPath} is already taken`, [{ field: 'path', message: 'has already been taken' }]);
