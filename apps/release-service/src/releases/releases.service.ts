import { EntityManager } from '@mikro-orm/postgresql';
import { Injectable } from '@nestjs/common';
import { CommandMetadata, DomainEventOf } from '@audit/contracts';
import { ConflictError, NotFoundError, UnprocessableError } from '@audit/platform';
import { Sql } from '@audit/sql';
import { CommandContext, CommandHandler } from '../event-store/command-handler';
import { Project } from '../groups/namespace.entities';
import { projectScope } from '../groups/namespaces.service';
import { ReleaseCommand, releaseDecider } from './release.decider';
import {
  Release,
  ReleaseEntity,
  ReleaseEvidence,
  ReleaseEvidenceEntity,
  ReleaseLink,
  ReleaseLinkEntity,
} from './release.entities';
import { STATELESS_RELEASE_EVENTS } from './release.events';
import { projectRelease, readReleaseDetails, releaseRowOf } from './release.projection';

export interface ReleaseInput {
  name?: string;
  description?: string | null;
  milestones?: string[];
}

/** A release as the GET endpoints show it: the row and its links and evidence. */
export interface ReleaseDetails {
  release: Release;
  links: ReleaseLink[];
  evidences: ReleaseEvidence[];
}

/** Recording a download or collecting evidence depends on nothing another writer could change meaningfully. */
const SAFE_RETRIES = 5;

/**
 * Runs release commands through the command handler: one transaction each, which resolves the live
 * release by tag, rebuilds its state from the stream, appends what the decider returns (outbox and
 * read models in the same statement) and reads back what the write produced. A concurrent writer
 * makes the append fail with a version conflict: 409, never a lost update.
 */
@Injectable()
export class ReleasesService {
  constructor(
    private readonly em: EntityManager,
    private readonly commands: CommandHandler,
  ) {}

  /**
   * The hot path: one autocommitted statement (event, outbox, read model, NOTIFY), plus one read
   * when milestones are named. Milestones are never deleted, so checking them first is safe; the
   * partial unique index on live tags, not a read beforehand, settles a duplicate tag.
   */
  create(project: Project, input: ReleaseInput & { tag_name: string }, meta: CommandMetadata): Promise<ReleaseDetails> {
    const milestones = input.milestones ?? [];
    return this.commands.handleCommand({
      ...this.release(project, meta),
      stream: { sequence: 'release_ids' },
      command: async ({ sql, id }): Promise<ReleaseCommand> => {
        await assertMilestonesExist(sql, project.id, milestones);
        return {
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
      },
      uniqueViolations: {
        releases_live_tag: () =>
          new ConflictError(`Release ${input.tag_name} already exists`, [
            { field: 'tag_name', message: 'has already been taken' },
          ]),
      },
      result: ({ events }) => ({
        release: releaseRowOf(events[0] as DomainEventOf<'ReleaseCreated'>),
        links: [],
        evidences: [],
      }),
    });
  }

  update(project: Project, tag: string, input: ReleaseInput, meta: CommandMetadata): Promise<ReleaseDetails> {
    return this.onRelease(project, tag, meta, async ({ sql }) => {
      if (input.milestones) await assertMilestonesExist(sql, project.id, input.milestones);
      return { type: 'UpdateRelease', data: input };
    });
  }

  delete(project: Project, tag: string, meta: CommandMetadata): Promise<ReleaseDetails> {
    return this.onRelease(project, tag, meta, () => ({ type: 'DeleteRelease' }));
  }

  async collectEvidence(project: Project, tag: string, meta: CommandMetadata): Promise<ReleaseEvidence> {
    let evidenceId = 0;
    const { evidences } = await this.onRelease(
      project,
      tag,
      meta,
      async ({ nextId }) => {
        evidenceId = await nextId('evidence_ids');
        return { type: 'CollectEvidence', data: { evidenceId, collectedAt: meta.now } };
      },
      SAFE_RETRIES,
    );
    return evidences.find((e) => e.id === evidenceId) as ReleaseEvidence; // read in the transaction that added it
  }

  async addLink(
    project: Project,
    tag: string,
    link: { name: string; url: string },
    meta: CommandMetadata,
  ): Promise<ReleaseLink> {
    let linkId = 0;
    const { links } = await this.onRelease(project, tag, meta, async ({ nextId }) => {
      linkId = await nextId('link_ids');
      return { type: 'AddAssetLink', data: { linkId, ...link } };
    });
    return links.find((l) => l.id === linkId) as ReleaseLink; // read in the transaction that added it
  }

  async removeLink(project: Project, tag: string, linkId: number, meta: CommandMetadata): Promise<ReleaseLink> {
    let removed: ReleaseLink | undefined;
    await this.onRelease(project, tag, meta, async ({ sql, id }) => {
      removed = (await readReleaseDetails(sql, id)).links.find((l) => l.id === linkId);
      return { type: 'RemoveAssetLink', data: { linkId } };
    });
    return removed as ReleaseLink; // the decider proved it was part of this release
  }

  /** Records who downloaded which link (a streaming-only audit event), then hands back the link. */
  async recordDownload(project: Project, tag: string, linkId: number, meta: CommandMetadata): Promise<ReleaseLink> {
    const { links } = await this.onRelease(
      project,
      tag,
      meta,
      () => ({ type: 'RecordDownload', data: { linkId } }),
      SAFE_RETRIES,
    );
    return links.find((l) => l.id === linkId) as ReleaseLink; // the decider proved it is part of this release
  }

  /** `perPage` rows from the start of page `page` of `offsetPerPage`-row pages (asking one extra tells whether there is a next page). */
  async list(
    project: Project,
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

  async get(project: Project, tag: string): Promise<ReleaseDetails> {
    const em = this.em.fork();
    const release = await em.findOne(ReleaseEntity, { projectId: project.id, tagName: tag, deletedAt: null });
    if (!release) throw new NotFoundError(`Release ${tag} not found`);
    return (await this.withChildren(em, [release]))[0];
  }

  /** What every command of the release aggregate shares. */
  private release(project: Project, meta: CommandMetadata) {
    return {
      decider: releaseDecider,
      aggregateType: 'Release',
      scope: projectScope(project),
      meta,
      project: projectRelease,
      skipTypes: STATELESS_RELEASE_EVENTS,
    };
  }

  /** A command on the live release tagged `tag`, answered with the release as this write left it. */
  private onRelease(
    project: Project,
    tag: string,
    meta: CommandMetadata,
    command: (ctx: CommandContext) => ReleaseCommand | Promise<ReleaseCommand>,
    retries = 0,
  ): Promise<ReleaseDetails> {
    return this.commands.handleCommand({
      ...this.release(project, meta),
      stream: { find: (sql) => liveReleaseId(sql, project.id, tag) },
      command,
      retries,
      // Read inside the transaction: the response shows what this write produced, not a later writer's state.
      result: ({ sql, id }) => readReleaseDetails(sql, id),
    });
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
}

async function liveReleaseId(sql: Sql, projectId: number, tag: string): Promise<number> {
  const [release] = await sql.query<{ id: number }>(
    'select id from releases where project_id = $1 and tag_name = $2 and deleted_at is null',
    [projectId, tag],
  );
  if (!release) throw new NotFoundError(`Release ${tag} not found`);
  return release.id;
}

async function assertMilestonesExist(sql: Sql, projectId: number, titles: string[]): Promise<void> {
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
