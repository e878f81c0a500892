import { DomainEvent, DomainEventOf } from '@audit/contracts';
import type { Statement } from '../event-store/event-store.service';
import { ReleaseEntity } from './release.entities';
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
        statements.push({ sql: 'insert into release_evidences (id, release_id, sha, collected_at) values (?, ?, ?, ?)', params: [event.data.evidence_id, event.data.release_id, event.data.sha, at] });
        break;
      case 'ReleaseAssetLinkAdded':
        statements.push({ sql: 'insert into release_links (id, release_id, name, url, created_at) values (?, ?, ?, ?, ?)', params: [event.data.link_id, event.data.release_id, event.data.link_name, event.data.url, at] });
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
    statements.push({ sql: 'update releases set name = ?, description = ?, milestones = ?, version = ?, updated_at = ? where id = ?', params: [state.name, state.description, JSON.stringify(state.milestones), version, at, state.releaseId] });
  }
  if (rowChanged && state.status === 'Deleted') {
    statements.push({ sql: 'update releases set deleted_at = ?, version = ?, updated_at = ? where id = ?', params: [at, version, at, state.releaseId] });
  }
  return statements;
}

/** The read-model row a ReleaseCreated starts; also the body of the 201, with no second read. */
export function releaseRowOf(event: DomainEventOf<'ReleaseCreated'>): ReleaseEntity {
  const d = event.data;
  return new ReleaseEntity({ id: d.release_id, projectId: d.project_id, tagName: d.tag_name, name: d.name, description: d.description, milestones: d.milestones, version: event.aggregate.version, createdAt: new Date(event.occurred_at) });
}
