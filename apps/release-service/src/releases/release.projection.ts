import { EntityManager } from '@mikro-orm/postgresql';
import { DomainEvent, DomainEventOf } from '@audit/contracts';
import { ReleaseEntity, ReleaseEvidenceEntity, ReleaseLinkEntity } from './release.entities';

/**
 * Keeps the read models behind the GET endpoints in step with a release's events. Runs in the
 * transaction of the append, so a reader never sees a release its stream does not hold, or the
 * reverse. Native statements: each event touches one row, there is nothing for a unit of work to batch.
 */
export async function projectReleaseEvents(em: EntityManager, events: DomainEvent[]): Promise<void> {
  for (const event of events) await project(em, event);
}

/** The read-model row a ReleaseCreated starts; also the body of the 201, with no second read. */
export function releaseRowOf(event: DomainEventOf<'ReleaseCreated'>): ReleaseEntity {
  const d = event.data;
  return new ReleaseEntity({ id: d.release_id, projectId: d.project_id, tagName: d.tag_name, name: d.name, description: d.description, milestones: d.milestones, version: event.aggregate.version, createdAt: new Date(event.occurred_at) });
}

async function project(em: EntityManager, event: DomainEvent): Promise<void> {
  const at = new Date(event.occurred_at);
  const version = event.aggregate.version;
  switch (event.type) {
    case 'ReleaseCreated':
      await em.insert(ReleaseEntity, releaseRowOf(event));
      return;
    case 'ReleaseUpdated': {
      const { name, description } = event.data.changes;
      await em.nativeUpdate(ReleaseEntity, { id: event.data.release_id }, { ...(name && { name: name.to }), ...(description && { description: description.to }), version, updatedAt: at });
      return;
    }
    case 'ReleaseMilestonesChanged':
      await em.nativeUpdate(ReleaseEntity, { id: event.data.release_id }, { milestones: event.data.to, version, updatedAt: at });
      return;
    case 'ReleaseDeleted':
      await em.nativeUpdate(ReleaseEntity, { id: event.data.release_id }, { deletedAt: at, version, updatedAt: at });
      return;
    case 'ReleaseEvidenceCollected':
      await em.insert(ReleaseEvidenceEntity, new ReleaseEvidenceEntity({ id: event.data.evidence_id, releaseId: event.data.release_id, sha: event.data.sha, collectedAt: at }));
      await em.nativeUpdate(ReleaseEntity, { id: event.data.release_id }, { version });
      return;
    case 'ReleaseAssetLinkAdded':
      await em.insert(ReleaseLinkEntity, new ReleaseLinkEntity({ id: event.data.link_id, releaseId: event.data.release_id, name: event.data.link_name, url: event.data.url, createdAt: at }));
      await em.nativeUpdate(ReleaseEntity, { id: event.data.release_id }, { version });
      return;
    case 'ReleaseAssetLinkRemoved':
      await em.nativeDelete(ReleaseLinkEntity, { id: event.data.link_id });
      await em.nativeUpdate(ReleaseEntity, { id: event.data.release_id }, { version });
      return;
    default:
      // Downloads and the events of other aggregates change no release read model.
      return;
  }
}
