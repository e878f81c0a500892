import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { DomainEvent } from '@audit/contracts';
import { UnprocessableError } from '@audit/platform';
import { CommandMetadata, envelope } from '../event-store/envelope';
import { EventStore } from '../event-store/event-store.service';
import { ProjectEntity } from '../groups/namespace.entities';
import { OutboxRelay } from '../outbox/outbox-relay.service';
import { decide, evolve, initialReleaseState, ReleaseEvent } from './release.decider';
import { MilestoneEntity, ReleaseEntity } from './release.entities';

export interface CreateReleaseInput {
  tag_name: string;
  name?: string;
  description?: string | null;
  milestones?: string[];
}

@Injectable()
export class ReleasesService {
  constructor(
    private readonly em: EntityManager,
    private readonly store: EventStore,
    private readonly relay: OutboxRelay,
  ) {}

  async list(project: ProjectEntity): Promise<ReleaseEntity[]> {
    return this.em.fork().find(ReleaseEntity, { projectId: project.id, deletedAt: null }, { orderBy: { createdAt: 'desc', id: 'desc' } });
  }

  async create(project: ProjectEntity, input: CreateReleaseInput, meta: CommandMetadata): Promise<ReleaseEntity> {
    const release = await this.em.fork().transactional(async (em) => {
      const milestones = input.milestones ?? [];
      await this.assertMilestonesExist(em, project.id, milestones);
      const live = await em.findOne(ReleaseEntity, { projectId: project.id, tagName: input.tag_name, deletedAt: null });
      const releaseId = live?.id ?? (await this.store.nextId(em, 'release_ids'));
      const streamId = `Release-${releaseId}`;
      const past = (await this.store.read(em, streamId)) as Array<DomainEvent & ReleaseEvent>;
      const state = past.reduce(evolve, initialReleaseState());
      const decided = decide(
        { type: 'CreateRelease', data: { releaseId, projectId: project.id, tagName: input.tag_name, name: input.name, description: input.description, milestones } },
        state,
      );
      const events = decided.map((e) =>
        envelope(e.type, e.data, { type: 'Release', id: String(releaseId), version: past.length + 1 }, { entity_type: 'Project', entity_id: project.id, entity_path: project.fullPath }, meta),
      );
      const version = await this.store.append(em, streamId, past.length, events);
      const [created] = decided;
      const entity = new ReleaseEntity({ id: releaseId, projectId: project.id, tagName: created.data.tag_name, name: created.data.name, description: created.data.description, milestones, version, createdAt: meta.now });
      em.persist(entity);
      return entity;
    });
    this.relay.wake();
    return release;
  }

  private async assertMilestonesExist(em: EntityManager, projectId: number, titles: string[]): Promise<void> {
    if (titles.length === 0) return;
    const found = await em.find(MilestoneEntity, { projectId, title: { $in: titles } });
    const missing = titles.filter((t) => !found.some((m) => m.title === t));
    if (missing.length > 0) {
      throw new UnprocessableError(`Milestone(s) not found: ${missing.join(', ')}`, [{ field: 'milestones', message: `not found in the project: ${missing.join(', ')}` }]);
    }
  }
}
