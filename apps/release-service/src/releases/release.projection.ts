import { DomainEvent, DomainEventOf } from '@audit/contracts';
import type { Sql, Statement } from '@audit/sql';
import { Release, ReleaseEvidence, ReleaseLink } from './release.entities';
import { ReleaseState } from './release.events';

/**
 * The read-model writes of a release command (`$n` placeholders), run in the append's own statement
 * (EventStore.append passes them to the outbox as `alongside`), so GET endpoints never disagree with
 * the stream. One statement may touch a row only once, so the release row gets a single write per
 * command, taken from the state after it.
 */
export function projectRelease(events: DomainEvent[], state: ReleaseState): Statement[] {
  const last = events[events.length - 1];
  if (!last) return [];
  const at = last.occurred_at;
  const version = last.aggregate.version;
  const statements: Statement[] = [];
  let rowChanged = false;
  for (const event of events) {
    switch (event.type) {
      case 'ReleaseCreated': {
        const r = releaseRowOf(event);
        statements.push({
          text: 'insert into releases (id, project_id, tag_name, name, description, milestones, version, created_at, updated_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
          params: [r.id, r.projectId, r.tagName, r.name, r.description, JSON.stringify(r.milestones), version, at, at],
        });
        break;
      }
      case 'ReleaseEvidenceCollected':
        statements.push({
          text: 'insert into release_evidences (id, release_id, sha, collected_at) values ($1, $2, $3, $4)',
          params: [event.data.evidence_id, event.data.release_id, event.data.sha, at],
        });
        break;
      case 'ReleaseAssetLinkAdded':
        statements.push({
          text: 'insert into release_links (id, release_id, name, url, created_at) values ($1, $2, $3, $4, $5)',
          params: [event.data.link_id, event.data.release_id, event.data.link_name, event.data.url, at],
        });
        break;
      case 'ReleaseAssetLinkRemoved':
        statements.push({ text: 'delete from release_links where id = $1', params: [event.data.link_id] });
        break;
      case 'ReleaseUpdated':
      case 'ReleaseMilestonesChanged':
      case 'ReleaseDeleted':
        rowChanged = true;
        break;
      default:
        // Downloads change no read model.
        break;
    }
  }
  if (rowChanged && state.status === 'Active') {
    statements.push({
      text: 'update releases set name = $1, description = $2, milestones = $3, version = $4, updated_at = $5 where id = $6',
      params: [state.name, state.description, JSON.stringify(state.milestones), version, at, state.releaseId],
    });
  }
  if (rowChanged && state.status === 'Deleted') {
    statements.push({
      text: 'update releases set deleted_at = $1, version = $2, updated_at = $3 where id = $4',
      params: [at, version, at, state.releaseId],
    });
  }
  return statements;
}

/** The read-model row a ReleaseCreated starts; also the body of the 201, with no second read. */
export function releaseRowOf(event: DomainEventOf<'ReleaseCreated'>): Release {
  const d = event.data;
  const createdAt = new Date(event.occurred_at);
  return {
    id: d.release_id,
    projectId: d.project_id,
    tagName: d.tag_name,
    name: d.name,
    description: d.description,
    milestones: d.milestones,
    version: event.aggregate.version,
    createdAt,
    updatedAt: createdAt,
    deletedAt: null,
  };
}

/** A release with its links and evidence as JSON, under the read model's own field names. */
const DETAILS = `
  select json_build_object(
           'id', r.id, 'projectId', r.project_id, 'tagName', r.tag_name, 'name', r.name,
           'description', r.description, 'milestones', r.milestones, 'version', r.version,
           'createdAt', r.created_at, 'updatedAt', r.updated_at, 'deletedAt', r.deleted_at) as release,
         coalesce((select json_agg(json_build_object('id', l.id, 'releaseId', l.release_id, 'name', l.name,
                                                     'url', l.url, 'createdAt', l.created_at) order by l.id)
                     from release_links l where l.release_id = r.id), '[]') as links,
         coalesce((select json_agg(json_build_object('id', e.id, 'releaseId', e.release_id, 'sha', e.sha,
                                                     'collectedAt', e.collected_at) order by e.id)
                     from release_evidences e where e.release_id = r.id), '[]') as evidences
    from releases r where r.id = $1`;

type Json<T> = { [K in keyof T]: T[K] extends Date ? string : T[K] extends Date | null ? string | null : T[K] };

/** A release with its links and evidence in one round trip, on the command's own connection (inside its transaction). */
export async function readReleaseDetails(
  sql: Sql,
  releaseId: number,
): Promise<{ release: Release; links: ReleaseLink[]; evidences: ReleaseEvidence[] }> {
  const [row] = await sql.query<{
    release: Json<Release>;
    links: Json<ReleaseLink>[];
    evidences: Json<ReleaseEvidence>[];
  }>(DETAILS, [releaseId]);
  const { release, links, evidences } = row;
  return {
    release: {
      ...release,
      createdAt: new Date(release.createdAt),
      updatedAt: new Date(release.updatedAt),
      deletedAt: release.deletedAt === null ? null : new Date(release.deletedAt),
    },
    links: links.map((l) => ({ ...l, createdAt: new Date(l.createdAt) })),
    evidences: evidences.map((e) => ({ ...e, collectedAt: new Date(e.collectedAt) })),
  };
}
