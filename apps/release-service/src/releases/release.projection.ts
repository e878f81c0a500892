import { DomainEvent, DomainEventOf } from '@audit/contracts';
import type { Statement } from '../event-store/event-store.service';
import type { Sql } from '../event-store/write-database';
import { ReleaseEntity, ReleaseEvidenceEntity, ReleaseLinkEntity } from './release.entities';
import { ReleaseState } from './release.events';

/**
 * The read-model writes of a release command, run in the append's own statement (see
 * EventStore.append), so GET endpoints never disagree with the stream. One statement may touch a
 * row only once, so the release row gets a single write per command, taken from the state after it.
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
          sql: 'insert into releases (id, project_id, tag_name, name, description, milestones, version, created_at, updated_at) values (?, ?, ?, ?, ?, ?, ?, ?, ?)',
          params: [r.id, r.projectId, r.tagName, r.name, r.description, JSON.stringify(r.milestones), version, at, at],
        });
        break;
      }
      case 'ReleaseEvidenceCollected':
        statements.push({
          sql: 'insert into release_evidences (id, release_id, sha, collected_at) values (?, ?, ?, ?)',
          params: [event.data.evidence_id, event.data.release_id, event.data.sha, at],
        });
        break;
      case 'ReleaseAssetLinkAdded':
        statements.push({
          sql: 'insert into release_links (id, release_id, name, url, created_at) values (?, ?, ?, ?, ?)',
          params: [event.data.link_id, event.data.release_id, event.data.link_name, event.data.url, at],
        });
        break;
      case 'ReleaseAssetLinkRemoved':
        statements.push({ sql: 'delete from release_links where id = ?', params: [event.data.link_id] });
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
      sql: 'update releases set name = ?, description = ?, milestones = ?, version = ?, updated_at = ? where id = ?',
      params: [state.name, state.description, JSON.stringify(state.milestones), version, at, state.releaseId],
    });
  }
  if (rowChanged && state.status === 'Deleted') {
    statements.push({
      sql: 'update releases set deleted_at = ?, version = ?, updated_at = ? where id = ?',
      params: [at, version, at, state.releaseId],
    });
  }
  return statements;
}

/** The read-model row a ReleaseCreated starts; also the body of the 201, with no second read. */
export function releaseRowOf(event: DomainEventOf<'ReleaseCreated'>): ReleaseEntity {
  const d = event.data;
  return new ReleaseEntity({
    id: d.release_id,
    projectId: d.project_id,
    tagName: d.tag_name,
    name: d.name,
    description: d.description,
    milestones: d.milestones,
    version: event.aggregate.version,
    createdAt: new Date(event.occurred_at),
  });
}

interface DetailsRow {
  id: number;
  project_id: number;
  tag_name: string;
  name: string;
  description: string | null;
  milestones: string[];
  version: number;
  created_at: Date;
  updated_at: Date;
  deleted_at: Date | null;
  links: Array<{ id: number; name: string; url: string; created_at: string }>;
  evidences: Array<{ id: number; sha: string; collected_at: string }>;
}

/** A release with its links and evidence in one round trip, on the command's own connection. */
export async function readReleaseDetails(
  sql: Sql,
  releaseId: number,
): Promise<{ release: ReleaseEntity; links: ReleaseLinkEntity[]; evidences: ReleaseEvidenceEntity[] }> {
  const [row] = await sql.query<DetailsRow>(
    `select r.*,
            coalesce((select json_agg(l order by l.id) from release_links l where l.release_id = r.id), '[]') as links,
            coalesce((select json_agg(e order by e.id) from release_evidences e where e.release_id = r.id), '[]') as evidences
       from releases r where r.id = $1`,
    [releaseId],
  );
  const release = new ReleaseEntity({
    id: row.id,
    projectId: row.project_id,
    tagName: row.tag_name,
    name: row.name,
    description: row.description,
    milestones: row.milestones,
    version: row.version,
    createdAt: row.created_at,
  });
  release.updatedAt = row.updated_at;
  release.deletedAt = row.deleted_at;
  return {
    release,
    links: row.links.map(
      (l) =>
        new ReleaseLinkEntity({ id: l.id, releaseId, name: l.name, url: l.url, createdAt: new Date(l.created_at) }),
    ),
    evidences: row.evidences.map(
      (e) => new ReleaseEvidenceEntity({ id: e.id, releaseId, sha: e.sha, collectedAt: new Date(e.collected_at) }),
    ),
  };
}
