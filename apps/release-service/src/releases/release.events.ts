import { DomainEventOf } from '@audit/contracts';

/*
 * The release aggregate's events, its state and `evolve`: pure, no clock and no database.
 * Event data are the shared contract's, so what the domain decides is exactly what is published.
 */
type EventOf<T extends ReleaseEventType> = { type: T; data: DomainEventOf<T>['data'] };

export const RELEASE_EVENT_TYPES = [
  'ReleaseCreated',
  'ReleaseUpdated',
  'ReleaseMilestonesChanged',
  'ReleaseDeleted',
  'ReleaseEvidenceCollected',
  'ReleaseAssetLinkAdded',
  'ReleaseAssetLinkRemoved',
  'ReleaseArtifactDownloaded',
] as const;
export type ReleaseEventType = (typeof RELEASE_EVENT_TYPES)[number];
export type ReleaseEvent = { [T in ReleaseEventType]: EventOf<T> }[ReleaseEventType];

/** Events `evolve` ignores: a stream is read without them, so popular downloads cost nothing. */
export const STATELESS_RELEASE_EVENTS: readonly ReleaseEventType[] = ['ReleaseArtifactDownloaded'];

export interface AssetLink {
  id: number;
  name: string;
  url: string;
}

export interface ActiveRelease {
  status: 'Active';
  releaseId: number;
  projectId: number;
  tagName: string;
  name: string;
  description: string | null;
  milestones: string[];
  links: AssetLink[];
  evidenceCount: number;
}

export type ReleaseState =
  { status: 'Initial' } | ActiveRelease | { status: 'Deleted'; releaseId: number; tagName: string };

export const initialReleaseState: ReleaseState = { status: 'Initial' };

export function evolve(state: ReleaseState, event: ReleaseEvent): ReleaseState {
  if (event.type === 'ReleaseCreated') {
    const d = event.data;
    return {
      status: 'Active',
      releaseId: d.release_id,
      projectId: d.project_id,
      tagName: d.tag_name,
      name: d.name,
      description: d.description,
      milestones: d.milestones,
      links: [],
      evidenceCount: 0,
    };
  }
  if (state.status !== 'Active') return state;
  switch (event.type) {
    case 'ReleaseUpdated': {
      const { name, description } = event.data.changes;
      return {
        ...state,
        name: name ? name.to : state.name,
        description: description ? description.to : state.description,
      };
    }
    case 'ReleaseMilestonesChanged':
      return { ...state, milestones: event.data.to };
    case 'ReleaseDeleted':
      return { status: 'Deleted', releaseId: state.releaseId, tagName: state.tagName };
    case 'ReleaseEvidenceCollected':
      return { ...state, evidenceCount: state.evidenceCount + 1 };
    case 'ReleaseAssetLinkAdded':
      return {
        ...state,
        links: [...state.links, { id: event.data.link_id, name: event.data.link_name, url: event.data.url }],
      };
    case 'ReleaseAssetLinkRemoved':
      return { ...state, links: state.links.filter((l) => l.id !== event.data.link_id) };
    default:
      return state;
  }
}
