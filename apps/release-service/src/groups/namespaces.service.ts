import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { CommandMetadata, Scope } from '@audit/contracts';
import { NotFoundError, PermissionDeniedError, Principal, Role, ValidationError } from '@audit/platform';
import { raw } from '@mikro-orm/core';
import { LRUCache } from 'lru-cache';
import { EventStore, Statement } from '../event-store/event-store.service';
import { IdAllocator } from '../event-store/id-allocator';
import { isUniqueViolation, WriteDatabase } from '../event-store/write-database';
import { OutboxRelay } from '@audit/outbox';
import { GroupEntity, ProjectEntity } from './namespace.entities';
import { decideNamespace, evolveNamespace, initialNamespaceState, NamespaceCommand } from './namespace.decider';

/** `:id` of the API: a numeric id or a (URL-decoded) full path, matched case-insensitively by the unique index on lower(full_path). */
const byIdOrPath = (idOrPath: string) =>
  /^\d{1,9}$/.test(idOrPath) ? { id: Number(idOrPath) } : { [raw('lower(full_path)')]: idOrPath.toLowerCase() };

@Injectable()
export class NamespacesService {
  constructor(
    private readonly em: EntityManager,
    private readonly store: EventStore,
    private readonly db: WriteDatabase,
    private readonly ids: IdAllocator,
    private readonly relay: OutboxRelay,
  ) {}

  /**
   * Projects are never renamed, moved or deleted here, so a found project can be remembered: the
   * hot path (every release request) then skips a query. Permissions come from the token, not from this.
   */
  private readonly projects = new LRUCache<string, ProjectEntity>({ max: 10_000 });

  async findProject(idOrPath: string, principal: Principal, minimum: Role): Promise<ProjectEntity> {
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
  ): Promise<GroupEntity> {
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
    const id = await this.ids.next('group_ids');
    const entity = new GroupEntity({
      id,
      path: input.path,
      name: input.name,
      fullPath,
      parentId: parent?.id ?? null,
      createdAt: meta.now,
    });
    const row = {
      sql: 'insert into groups (id, path, name, full_path, parent_id, created_at) values (?, ?, ?, ?, ?, ?)',
      params: [id, entity.path, entity.name, fullPath, entity.parentId, meta.now],
    };
    await this.decide(
      'Group',
      id,
      { entity_type: 'Group', entity_id: id, entity_path: fullPath },
      { type: 'CreateGroup', data: { groupId: id, path: input.path, name: input.name, parent } },
      row,
      meta,
    );
    return entity;
  }

  async createProject(
    input: { path: string; name: string; namespace_id: number },
    principal: Principal,
    meta: CommandMetadata,
  ): Promise<ProjectEntity> {
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
    const id = await this.ids.next('project_ids');
    const entity = new ProjectEntity({
      id,
      path: input.path,
      name: input.name,
      fullPath,
      namespaceId: group.id,
      createdAt: meta.now,
    });
    const row = {
      sql: 'insert into projects (id, path, name, full_path, namespace_id, created_at) values (?, ?, ?, ?, ?, ?)',
      params: [id, entity.path, entity.name, fullPath, group.id, meta.now],
    };
    await this.decide(
      'Project',
      id,
      { entity_type: 'Project', entity_id: id, entity_path: fullPath },
      { type: 'CreateProject', data: { projectId: id, path: input.path, name: input.name, namespace: group } },
      row,
      meta,
    );
    return entity;
  }

  /** Groups and projects are never moved or deleted, so what was read above still holds: one autocommitted statement. */
  private async decide(
    type: 'Group' | 'Project',
    id: number,
    scope: Scope,
    command: NamespaceCommand,
    row: Statement,
    meta: CommandMetadata,
  ): Promise<void> {
    try {
      await this.store.handle(
        this.db.autocommit,
        {
          type,
          id,
          scope,
          initial: initialNamespaceState,
          evolve: evolveNamespace,
          decide: decideNamespace,
          project: () => [row],
          fresh: true,
        },
        command,
        meta,
      );
    } catch (err) {
      // A concurrent creation of the same path: the unique index lets exactly one through.
      if (isUniqueViolation(err, 'groups_full_path') || isUniqueViolation(err, 'projects_full_path'))
        throw pathTaken(scope.entity_path);
      throw err;
    }
    this.relay.wake();
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
