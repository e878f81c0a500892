import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ConflictError } from '@audit/platform';
import { CommandMetadata, envelope } from '../event-store/envelope';
import { EventStore } from '../event-store/event-store.service';
import { ProjectEntity } from '../groups/namespace.entities';
import { OutboxRelay } from '../outbox/outbox-relay.service';
import { MilestoneEntity } from './release.entities';

@Injectable()
export class MilestonesService {
  constructor(
    private readonly em: EntityManager,
    private readonly store: EventStore,
    private readonly relay: OutboxRelay,
  ) {}

  list(project: ProjectEntity): Promise<MilestoneEntity[]> {
    return this.em.fork().find(MilestoneEntity, { projectId: project.id }, { orderBy: { id: 'asc' } });
  }

  async create(project: ProjectEntity, title: string, meta: CommandMetadata): Promise<MilestoneEntity> {
    try {
      const milestone = await this.em.fork().transactional(async (em) => {
        if ((await em.count(MilestoneEntity, { projectId: project.id, title })) > 0) throw new ConflictError(`Milestone ${title} already exists`);
        const id = await this.store.nextId(em, 'milestone_ids');
        const event = envelope('MilestoneCreated', { milestone_id: id, project_id: project.id, title },
          { type: 'Milestone', id: String(id), version: 1 }, { entity_type: 'Project', entity_id: project.id, entity_path: project.fullPath }, meta);
        await this.store.append(em, `Milestone-${id}`, 0, [event]);
        const entity = new MilestoneEntity({ id, projectId: project.id, title, createdAt: meta.now });
        em.persist(entity);
        return entity;
      });
      this.relay.wake();
      return milestone;
    } catch (err) {
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`Milestone ${title} already exists`);
      throw err;
    }
  }
}
