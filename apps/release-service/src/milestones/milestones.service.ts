import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { ConflictError } from '@audit/platform';
import { CommandMetadata } from '@audit/contracts';
import { EventStore } from '../event-store/event-store.service';
import { IdAllocator } from '../event-store/id-allocator';
import { isUniqueViolation, WriteDatabase } from '../event-store/write-database';
import { ProjectEntity } from '../groups/namespace.entities';
import { OutboxRelay } from '@audit/outbox';
import { decideMilestone, evolveMilestone, initialMilestoneState } from './milestone.decider';
import { MilestoneEntity } from './milestone.entity';

@Injectable()
export class MilestonesService {
  constructor(
    private readonly em: EntityManager,
    private readonly store: EventStore,
    private readonly db: WriteDatabase,
    private readonly ids: IdAllocator,
    private readonly relay: OutboxRelay,
  ) {}

  list(project: ProjectEntity): Promise<MilestoneEntity[]> {
    return this.em.fork().find(MilestoneEntity, { projectId: project.id }, { orderBy: { id: 'asc' } });
  }

  /** Milestones are never renamed or deleted: a read, then one autocommitted statement; the unique index settles a race. */
  async create(project: ProjectEntity, title: string, meta: CommandMetadata): Promise<MilestoneEntity> {
    const titleTaken = (await this.em.fork().count(MilestoneEntity, { projectId: project.id, title })) > 0;
    const milestoneId = await this.ids.next('milestone_ids');
    const scope = { entity_type: 'Project' as const, entity_id: project.id, entity_path: project.fullPath };
    const row = {
      sql: 'insert into milestones (id, project_id, title, created_at) values (?, ?, ?, ?)',
      params: [milestoneId, project.id, title, meta.now],
    };
    try {
      await this.store.handle(
        this.db.autocommit,
        {
          type: 'Milestone',
          id: milestoneId,
          scope,
          initial: initialMilestoneState,
          evolve: evolveMilestone,
          decide: decideMilestone,
          project: () => [row],
          fresh: true,
        },
        { type: 'CreateMilestone', data: { milestoneId, projectId: project.id, title, titleTaken } },
        meta,
      );
    } catch (err) {
      if (isUniqueViolation(err, 'milestones_project_title'))
        throw new ConflictError(`Milestone ${title} already exists`, [
          { field: 'title', message: 'has already been taken' },
        ]);
      throw err;
    }
    this.relay.wake();
    return new MilestoneEntity({ id: milestoneId, projectId: project.id, title, createdAt: meta.now });
  }
}
