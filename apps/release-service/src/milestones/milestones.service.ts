import { UniqueConstraintViolationException } from '@mikro-orm/core';
import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ConflictError } from '@audit/platform';
import { CommandMetadata } from '../event-store/envelope';
import { EventStore } from '../event-store/event-store.service';
import { ProjectEntity } from '../groups/namespace.entities';
import { OutboxRelay } from '../outbox/outbox-relay.service';
import { decideMilestone, evolveMilestone, initialMilestoneState } from './milestone.decider';
import { MilestoneEntity } from './milestone.entity';

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
        const titleTaken = (await em.count(MilestoneEntity, { projectId: project.id, title })) > 0;
        const milestoneId = await this.store.nextId(em, 'milestone_ids');
        const scope = { entity_type: 'Project' as const, entity_id: project.id, entity_path: project.fullPath };
        await this.store.handle(em, { type: 'Milestone', id: milestoneId, scope, initial: initialMilestoneState, evolve: evolveMilestone, decide: decideMilestone, fresh: true },
          { type: 'CreateMilestone', data: { milestoneId, projectId: project.id, title, titleTaken } }, meta);
        const entity = new MilestoneEntity({ id: milestoneId, projectId: project.id, title, createdAt: meta.now });
        await em.insert(MilestoneEntity, entity);
        return entity;
      });
      this.relay.wake();
      return milestone;
    } catch (err) {
      // Two concurrent creations of one title: the unique index lets exactly one through.
      if (err instanceof UniqueConstraintViolationException) throw new ConflictError(`Milestone ${title} already exists`, [{ field: 'title', message: 'has already been taken' }]);
      throw err;
    }
  }
}
