import { createHash } from 'node:crypto';
import { ConflictError, Decider, NotFoundError } from '@audit/kernel';
import { ActiveRelease, evolve, initialReleaseState, ReleaseEvent, ReleaseState } from './release.events';

/*
 * Commands of the release aggregate and `decide`: given the state rebuilt from past events, a
 * command yields the events to append, or throws a domain error. Ids and time come in with the
 * command, so this file does no I/O and its tests need no clock.
 */
export type ReleaseCommand =
  | {
      type: 'CreateRelease';
      data: {
        releaseId: number;
        projectId: number;
        tagName: string;
        name?: string;
        description?: string | null;
        milestones: string[];
      };
    }
  | { type: 'UpdateRelease'; data: { name?: string; description?: string | null; milestones?: string[] } }
  | { type: 'DeleteRelease' }
  | { type: 'CollectEvidence'; data: { evidenceId: number; collectedAt: Date } }
  | { type: 'AddAssetLink'; data: { linkId: number; name: string; url: string } }
  | { type: 'RemoveAssetLink'; data: { linkId: number } }
  | { type: 'RecordDownload'; data: { linkId: number } };

/** The release aggregate: `decide` here, `evolve` and the initial state with the events (release.events.ts). */
export const releaseDecider: Decider<ReleaseCommand, ReleaseEvent, ReleaseState> = {
  decide,
  evolve,
  initialState: initialReleaseState,
};

function decide(command: ReleaseCommand, state: ReleaseState): ReleaseEvent[] {
  if (command.type === 'CreateRelease') return create(command.data, state);
  const release = activeOrThrow(state);
  switch (command.type) {
    case 'UpdateRelease':
      return update(command.data, release);
    case 'DeleteRelease':
      return [{ type: 'ReleaseDeleted', data: ref(release) }];
    case 'CollectEvidence':
      return [
        {
          type: 'ReleaseEvidenceCollected',
          data: {
            ...ref(release),
            evidence_id: command.data.evidenceId,
            sha: evidenceSha(release, command.data.collectedAt),
          },
        },
      ];
    case 'AddAssetLink':
      return addLink(command.data, release);
    case 'RemoveAssetLink': {
      const link = linkOrThrow(release, command.data.linkId);
      return [
        {
          type: 'ReleaseAssetLinkRemoved',
          data: { ...ref(release), link_id: link.id, link_name: link.name, url: link.url },
        },
      ];
    }
    case 'RecordDownload': {
      const link = linkOrThrow(release, command.data.linkId);
      return [
        {
          type: 'ReleaseArtifactDownloaded',
          data: { ...ref(release), link_id: link.id, link_name: link.name, url: link.url },
        },
      ];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unknown command ${(unhandled as { type: string }).type}`);
    }
  }
}

function create(data: Extract<ReleaseCommand, { type: 'CreateRelease' }>['data'], state: ReleaseState): ReleaseEvent[] {
  if (state.status !== 'Initial')
    throw new ConflictError(`Release ${data.tagName} already exists`, [
      { field: 'tag_name', message: 'has already been taken' },
    ]);
  const { releaseId, projectId, tagName, name, description, milestones } = data;
  return [
    {
      type: 'ReleaseCreated',
      data: {
        release_id: releaseId,
        project_id: projectId,
        tag_name: tagName,
        name: name ?? tagName,
        description: description ?? null,
        milestones,
      },
    },
  ];
}

/** Only what really changes becomes an event; an update that changes nothing emits nothing. */
function update(
  data: Extract<ReleaseCommand, { type: 'UpdateRelease' }>['data'],
  release: ActiveRelease,
): ReleaseEvent[] {
  const events: ReleaseEvent[] = [];
  const changes: Extract<ReleaseEvent, { type: 'ReleaseUpdated' }>['data']['changes'] = {};
  if (data.name !== undefined && data.name !== release.name) changes.name = { from: release.name, to: data.name };
  if (data.description !== undefined && data.description !== release.description)
    changes.description = { from: release.description, to: data.description };
  if (Object.keys(changes).length > 0)
    events.push({ type: 'ReleaseUpdated', data: { ...ref(release), name: data.name ?? release.name, changes } });
  if (data.milestones !== undefined && !sameSet(data.milestones, release.milestones)) {
    events.push({
      type: 'ReleaseMilestonesChanged',
      data: { ...ref(release), name: data.name ?? release.name, from: release.milestones, to: data.milestones },
    });
  }
  return events;
}

function addLink(data: { linkId: number; name: string; url: string }, release: ActiveRelease): ReleaseEvent[] {
  if (release.links.some((l) => l.name === data.name))
    throw new ConflictError(`Release ${release.tagName} already has a link named ${data.name}`, [
      { field: 'name', message: 'has already been taken' },
    ]);
  if (release.links.some((l) => l.url === data.url))
    throw new ConflictError(`Release ${release.tagName} already links to this URL`, [
      { field: 'url', message: 'has already been taken' },
    ]);
  return [
    {
      type: 'ReleaseAssetLinkAdded',
      data: { ...ref(release), link_id: data.linkId, link_name: data.name, url: data.url },
    },
  ];
}

const ref = (r: ActiveRelease) => ({
  release_id: r.releaseId,
  project_id: r.projectId,
  tag_name: r.tagName,
  name: r.name,
});

function activeOrThrow(state: ReleaseState): ActiveRelease {
  if (state.status === 'Active') return state;
  throw new NotFoundError(state.status === 'Deleted' ? `Release ${state.tagName} was deleted` : 'Release not found');
}

function linkOrThrow(release: ActiveRelease, linkId: number) {
  const link = release.links.find((l) => l.id === linkId);
  if (!link) throw new NotFoundError(`Link ${linkId} not found in release ${release.tagName}`);
  return link;
}

/** Milestones are a set; a reordering alone is not a change worth an audit event. */
const sameSet = (a: string[], b: string[]) => a.length === b.length && a.every((t) => b.includes(t));

/** The evidence is a fingerprint of what the release was at collection time (GitLab's release evidence). */
function evidenceSha(release: ActiveRelease, collectedAt: Date): string {
  const summary = {
    tag_name: release.tagName,
    name: release.name,
    description: release.description,
    milestones: release.milestones,
    links: release.links,
    collected_at: collectedAt.toISOString(),
  };
  return createHash('sha256').update(JSON.stringify(summary)).digest('hex');
}
