import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { CommandMetadata, DomainEvent, DomainEventOf } from '@audit/contracts';
import { ConflictError, NotFoundError, UnprocessableError } from '@audit/platform';
import { Aggregate, EventStore, VersionConflictError } from '../event-store/event-store.service';
import { IdAllocator } from '../event-store/id-allocator';
import { isUniqueViolation, Sql, WriteDatabase } from '../event-store/write-database';
import { ProjectEntity } from '../groups/namespace.entities';
import { OutboxRelay } from '@audit/outbox';
import { decide, ReleaseCommand } from './release.decider';
import { ReleaseEntity, ReleaseEvidenceEntity, ReleaseLinkEntity } from './release.entities';
import { evolve, initialReleaseState, ReleaseEvent, ReleaseState, STATELESS_RELEASE_EVENTS } from './release.events';
import { projectRelease, readReleaseDetails, releaseRowOf } from './release.projection';

export interface ReleaseInput {
  name?: string;
  description?: string | null;
  milestones?: string[];
}

/** A release as the GET endpoints show it: the row and its links and evidence. */
export interface ReleaseDetails {
  release: ReleaseEntity;
  links: ReleaseLinkEntity[];
  evidences: ReleaseEvidenceEntity[];
}

/** Recording a download or collecting evidence depends on nothing another writer could change meaningfully. */
const SAFE_RETRIES = 5;

/**
 * Runs release commands: one transaction each, which resolves the live release by tag, rebuilds
 * its state from the stream, appends what `decide` returns (outbox included) and updates the read
 * models. A concurrent writer makes the append fail with a version conflict: 409, never a lost update.
 */
@Injectable()
export class ReleasesService {
  constructor(
    private readonly em: EntityManager,
    private readonly store: EventStore,
    private readonly db: WriteDatabase,
    private readonly ids: IdAllocator,
    private readonly relay: OutboxRelay,
  ) {}

  /**
   * The hot path: one autocommitted statement (event, outbox, read model, NOTIFY), plus one read
   * when milestones are named. Milestones are never deleted, so checking them first is safe.
   */
  async create(
    project: ProjectEntity,
    input: ReleaseInput & { tag_name: string },
    meta: CommandMetadata,
  ): Promise<ReleaseDetails> {
    const milestones = input.milestones ?? [];
    await this.assertMilestonesExist(this.db.autocommit, project.id, milestones);
    const id = await this.ids.next('release_ids');
    const command: ReleaseCommand = {
      type: 'CreateRelease',
      data: {
        releaseId: id,
        projectId: project.id,
        tagName: input.tag_name,
        name: input.name,
        description: input.description,
        milestones,
      },
    };
    try {
      // The partial unique index on live tags, not a read beforehand, settles a duplicate tag.
      const { events } = await this.store.handle(this.db.autocommit, this.aggregate(project, id, true), command, meta);
      this.relay.wake();
      return { release: releaseRowOf(events[0] as DomainEventOf<'ReleaseCreated'>), links: [], evidences: [] };
    } catch (err) {
      if (isUniqueViolation(err, 'releases_live_tag'))
        throw new ConflictError(`Release ${input.tag_name} already exists`, [
          { field: 'tag_name', message: 'has already been taken' },
        ]);
      throw err;
    }
  }

  update(project: ProjectEntity, tag: string, input: ReleaseInput, meta: CommandMetadata): Promise<ReleaseDetails> {
    return this.onRelease(project, tag, meta, async (sql) => {
      if (input.milestones) await this.assertMilestonesExist(sql, project.id, input.milestones);
      return { type: 'UpdateRelease', data: input };
    });
  }

  delete(project: ProjectEntity, tag: string, meta: CommandMetadata): Promise<ReleaseDetails> {
    return this.onRelease(project, tag, meta, async () => ({ type: 'DeleteRelease' }));
  }

  async collectEvidence(project: ProjectEntity, tag: string, meta: CommandMetadata): Promise<ReleaseEvidenceEntity> {
    let evidenceId = 0;
    const { evidences } = await this.onRelease(
      project,
      tag,
      meta,
      async () => {
        evidenceId = await this.ids.next('evidence_ids');
        return { type: 'CollectEvidence', data: { evidenceId, collectedAt: meta.now } };
      },
      SAFE_RETRIES,
    );
    return evidences.find((e) => e.id === evidenceId) as ReleaseEvidenceEntity; // read in the transaction that added it
  }

  async addLink(
    project: ProjectEntity,
    tag: string,
    link: { name: string; url: string },
    meta: CommandMetadata,
  ): Promise<ReleaseLinkEntity> {
    let linkId = 0;
    const { links } = await this.onRelease(project, tag, meta, async () => {
      linkId = await this.ids.next('link_ids');
      return { type: 'AddAssetLink', data: { linkId, ...link } };
    });
    return links.find((l) => l.id === linkId) as ReleaseLinkEntity; // read in the transaction that added it
  }

  async removeLink(
    project: ProjectEntity,
    tag: string,
    linkId: number,
    meta: CommandMetadata,
  ): Promise<ReleaseLinkEntity> {
    let removed: ReleaseLinkEntity | undefined;
    await this.onRelease(project, tag, meta, async (sql) => {
      removed = (await readReleaseDetails(sql, await this.liveReleaseId(sql, project.id, tag))).links.find(
        (l) => l.id === linkId,
      );
      return { type: 'RemoveAssetLink', data: { linkId } };
    });
    return removed as ReleaseLinkEntity; // the decider proved it was part of this release
  }

  /** Records who downloaded which link (a streaming-only audit event), then hands back the link. */
  async recordDownload(
    project: ProjectEntity,
    tag: string,
    linkId: number,
    meta: CommandMetadata,
  ): Promise<ReleaseLinkEntity> {
    const { links } = await this.onRelease(
      project,
      tag,
      meta,
      async () => ({ type: 'RecordDownload', data: { linkId } }),
      SAFE_RETRIES,
    );
    return links.find((l) => l.id === linkId) as ReleaseLinkEntity; // the decider proved it is part of this release
  }

  /** `perPage` rows from the start of page `page` of `offsetPerPage`-row pages (asking one extra tells whether there is a next page). */
  async list(
    project: ProjectEntity,
    page: { perPage: number; page: number; offsetPerPage: number },
  ): Promise<ReleaseDetails[]> {
    const em = this.em.fork();
    const releases = await em.find(
      ReleaseEntity,
      { projectId: project.id, deletedAt: null },
      { orderBy: { createdAt: 'desc', id: 'desc' }, limit: page.perPage, offset: (page.page - 1) * page.offsetPerPage },
    );
    return this.withChildren(em, releases);
  }

  async get(project: ProjectEntity, tag: string): Promise<ReleaseDetails> {
    const em = this.em.fork();
    const release = await em.findOne(ReleaseEntity, { projectId: project.id, tagName: tag, deletedAt: null });
    if (!release) throw new NotFoundError(`Release ${tag} not found`);
    return (await this.withChildren(em, [release]))[0];
  }

  private async onRelease(
    project: ProjectEntity,
    tag: string,
    meta: CommandMetadata,
    command: (sql: Sql) => Promise<ReleaseCommand>,
    retries = 0,
  ): Promise<ReleaseDetails> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const { details, events } = await this.db.transaction(async (sql) => {
          const id = await this.liveReleaseId(sql, project.id, tag);
          const appended: DomainEvent[] = (
            await this.store.handle(sql, this.aggregate(project, id), await command(sql), meta)
          ).events;
          // Read inside the transaction: the response shows what this write produced, not a later writer's state.
          return { details: await readReleaseDetails(sql, id), events: appended };
        });
        if (events.length > 0) this.relay.wake();
        return details;
      } catch (err) {
        if (!(err instanceof VersionConflictError) || attempt >= retries) throw err;
      }
    }
  }

  private aggregate(
    project: ProjectEntity,
    releaseId: number,
    fresh = false,
  ): Aggregate<ReleaseState, ReleaseEvent, ReleaseCommand> {
    const scope = { entity_type: 'Project' as const, entity_id: project.id, entity_path: project.fullPath };
    return {
      type: 'Release',
      id: releaseId,
      scope,
      initial: initialReleaseState,
      evolve,
      decide,
      project: projectRelease,
      skipTypes: STATELESS_RELEASE_EVENTS,
      fresh,
    };
  }

  private async liveReleaseId(sql: Sql, projectId: number, tag: string): Promise<number> {
    const [release] = await sql.query<{ id: number }>(
      'select id from releases where project_id = $1 and tag_name = $2 and deleted_at is null',
      [projectId, tag],
    );
    if (!release) throw new NotFoundError(`Release ${tag} not found`);
    return release.id;
  }

  private async withChildren(em: EntityManager, releases: ReleaseEntity[]): Promise<ReleaseDetails[]> {
    if (releases.length === 0) return [];
    const ids = releases.map((r) => r.id);
    const [links, evidences] = await Promise.all([
      em.find(ReleaseLinkEntity, { releaseId: { $in: ids } }, { orderBy: { id: 'asc' } }),
      em.find(ReleaseEvidenceEntity, { releaseId: { $in: ids } }, { orderBy: { id: 'asc' } }),
    ]);
    return releases.map((release) => ({
      release,
      links: links.filter((l) => l.releaseId === release.id),
      evidences: evidences.filter((e) => e.releaseId === release.id),
    }));
  }

  private async assertMilestonesExist(sql: Sql, projectId: number, titles: string[]): Promise<void> {
    if (titles.length === 0) return;
    const found = await sql.query<{ title: string }>(
      'select title from milestones where project_id = $1 and title = any ($2::text[])',
      [projectId, titles],
    );
    const missing = titles.filter((t) => !found.some((m) => m.title === t));
    if (missing.length > 0) {
      throw new UnprocessableError(`Milestone(s) not found: ${missing.join(', ')}`, [
        { field: 'milestones', message: `not found in the project: ${missing.join(', ')}` },
      ]);
    }
  }
}
