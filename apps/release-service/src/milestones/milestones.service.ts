import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { CommandMetadata, DomainEvent } from '@audit/contracts';
import { ConflictError } from '@audit/platform';
import { Statement } from '@audit/sql';
import { CommandHandler } from '../event-store/command-handler';
import { Project } from '../groups/namespace.entities';
import { projectScope } from '../groups/namespaces.service';
import { milestoneDecider } from './milestone.decider';
import { Milestone, MilestoneEntity } from './milestone.entity';

/** The read-model row of a milestone's creation, run in the append's own statement. */
const projectMilestone = (events: DomainEvent[]): Statement[] =>
  events.flatMap((event) =>
    event.type === 'MilestoneCreated'
      ? [
          {
            text: 'insert into milestones (id, project_id, title, created_at) values ($1, $2, $3, $4)',
            params: [event.data.milestone_id, event.data.project_id, event.data.title, event.occurred_at],
          },
        ]
      : [],
  );

@Injectable()
export class MilestonesService {
  constructor(
    private readonly em: EntityManager,
    private readonly commands: CommandHandler,
  ) {}

  list(project: Project): Promise<Milestone[]> {
    return this.em.fork().find(MilestoneEntity, { projectId: project.id }, { orderBy: { id: 'asc' } });
  }

  /** Milestones are never renamed or deleted: a read, then one autocommitted statement; the unique index settles a race. */
  async create(project: Project, title: string, meta: CommandMetadata): Promise<Milestone> {
    const titleTaken = (await this.em.fork().count(MilestoneEntity, { projectId: project.id, title })) > 0;
    return this.commands.handleCommand({
      decider: milestoneDecider,
      aggregateType: 'Milestone',
      stream: { sequence: 'milestone_ids' },
      scope: projectScope(project),
      meta,
      command: ({ id }) => ({
        type: 'CreateMilestone',
        data: { milestoneId: id, projectId: project.id, title, titleTaken },
      }),
      project: projectMilestone,
      uniqueViolations: {
        milestones_project_title: () =>
          new ConflictError(`Milestone ${title} already exists`, [
            { field: 'title', message: 'has already been taken' },
          ]),
      },
      result: ({ id }) => ({ id, projectId: project.id, title, createdAt: meta.now }),
    });
  }
}
