import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { Scope } from '@audit/contracts';
import { NotFoundError, PermissionDeniedError, Principal, Role, ValidationError } from '@audit/platform';
import { raw } from '@mikro-orm/core';
import { CommandMetadata } from '../event-store/envelope';
import { EventStore } from '../event-store/event-store.service';
import { OutboxRelay } from '../outbox/outbox-relay.service';
import { GroupEntity, ProjectEntity } from './namespace.entities';
import { decideNamespace, evolveNamespace, initialNamespaceState, NamespaceCommand } from './namespace.decider';

/** `:id` of the API: a numeric id or a (URL-decoded) full path, matched case-insensitively by the unique index on lower(full_path). */
const byIdOrPath = (idOrPath: string) => (/^\d{1,9}$/.test(idOrPath) ? { id: Number(idOrPath) } : { [raw('lower(full_path)')]: idOrPath.toLowerCase() });

@Injectable()
export class NamespacesService {
  constructor(
    private readonly em: EntityManager,
    private readonly store: EventStore,
    private readonly relay: OutboxRelay,
  ) {}

  async findProject(idOrPath: string, principal: Principal, minimum: Role): Promise<ProjectEntity> {
    const project = await this.em.fork().findOne(ProjectEntity, byIdOrPath(idOrPath));
    if (!project) throw new NotFoundError(`Project ${idOrPath} not found`);
    if (!principal.hasRole(project.fullPath, minimum)) {
      // Below reporter a caller may not even learn that the project exists.
      if (!principal.hasRole(project.fullPath, 'reporter')) throw new NotFoundError(`Project ${idOrPath} not found`);
      throw new PermissionDeniedError(`Requires the ${minimum} role on ${project.fullPath}`);
    }
    return project;
  }

  async createGroup(input: { path: string; name: string; parent_id?: number }, principal: Principal, meta: CommandMetadata): Promise<GroupEntity> {
    const group = await this.em.fork().transactional(async (em) => {
      const parent = input.parent_id === undefined ? null : await em.findOne(GroupEntity, { id: input.parent_id });
      if (input.parent_id !== undefined && !parent) throw new NotFoundError(`Parent group ${input.parent_id} not found`, [{ field: 'parent_id', message: 'does not exist' }]);
      if (parent ? !principal.hasRole(parent.fullPath, 'owner') : !principal.admin) {
        throw new PermissionDeniedError(parent ? `Requires the owner role on ${parent.fullPath}` : 'Only administrators create top-level groups');
      }
      const fullPath = parent ? `${parent.fullPath}/${input.path}` : input.path;
      await this.assertPathFree(em, fullPath);
      const id = await this.store.nextId(em, 'group_ids');
      await this.decide(em, 'Group', id, { entity_type: 'Group', entity_id: id, entity_path: fullPath }, { type: 'CreateGroup', data: { groupId: id, path: input.path, name: input.name, parent } }, meta);
      const entity = new GroupEntity({ id, path: input.path, name: input.name, fullPath, parentId: parent?.id ?? null, createdAt: meta.now });
      await em.insert(GroupEntity, entity);
      return entity;
    });
    this.relay.wake();
    return group;
  }

  async createProject(input: { path: string; name: string; namespace_id: number }, principal: Principal, meta: CommandMetadata): Promise<ProjectEntity> {
    const project = await this.em.fork().transactional(async (em) => {
      const group = await em.findOne(GroupEntity, { id: input.namespace_id });
      if (!group) throw new NotFoundError(`Group ${input.namespace_id} not found`, [{ field: 'namespace_id', message: 'does not exist' }]);
      if (!principal.hasRole(group.fullPath, 'owner')) throw new PermissionDeniedError(`Requires the owner role on ${group.fullPath}`);
      const fullPath = `${group.fullPath}/${input.path}`;
      await this.assertPathFree(em, fullPath);
      const id = await this.store.nextId(em, 'project_ids');
      await this.decide(em, 'Project', id, { entity_type: 'Project', entity_id: id, entity_path: fullPath }, { type: 'CreateProject', data: { projectId: id, path: input.path, name: input.name, namespace: group } }, meta);
      const entity = new ProjectEntity({ id, path: input.path, name: input.name, fullPath, namespaceId: group.id, createdAt: meta.now });
      await em.insert(ProjectEntity, entity);
      return entity;
    });
    this.relay.wake();
    return project;
  }

  private decide(em: EntityManager, type: 'Group' | 'Project', id: number, scope: Scope, command: NamespaceCommand, meta: CommandMetadata) {
    return this.store.handle(em, { type, id, scope, initial: initialNamespaceState, evolve: evolveNamespace, decide: decideNamespace, fresh: true }, command, meta);
  }

  /** Groups and projects share one path space, as they do in the URLs that name them. */
  private async assertPathFree(em: EntityManager, fullPath: string): Promise<void> {
    const taken = (await em.count(GroupEntity, byIdOrPath(fullPath))) + (await em.count(ProjectEntity, byIdOrPath(fullPath)));
    if (taken > 0) throw new ValidationError(`${fullPath} is already taken`, [{ field: 'path', message: 'has already been taken' }]);
  }
}
