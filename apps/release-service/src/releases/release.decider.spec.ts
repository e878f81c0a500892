import { ConflictError, fold, NotFoundError } from '@audit/kernel';
import { ReleaseCommand, releaseDecider } from './release.decider';
import { ReleaseEvent } from './release.events';

const { decide, evolve } = releaseDecider;

/** given events → when command → then events (or then throws), as the decider tests of the field read. */
const given = (...events: ReleaseEvent[]) => ({
  when: (command: ReleaseCommand) => {
    const run = () => decide(command, fold(releaseDecider, events));
    return {
      then: (expected: ReleaseEvent[]) => expect(run()).toEqual(expected),
      thenThrows: (error: new (...args: never[]) => Error) => expect(run).toThrow(error),
    };
  },
});

const ref = { release_id: 7, project_id: 29, tag_name: 'v0.3', name: 'New Release' };
const created: ReleaseEvent = {
  type: 'ReleaseCreated',
  data: { ...ref, description: 'notes', milestones: ['v1.0', 'v1.1'] },
};
const link = { link_id: 3, link_name: 'binary', url: 'https://example.com/bin.tgz' };
const linkAdded: ReleaseEvent = { type: 'ReleaseAssetLinkAdded', data: { ...ref, ...link } };
const deleted: ReleaseEvent = { type: 'ReleaseDeleted', data: ref };

describe('release decider: CreateRelease', () => {
  it('given no events, then ReleaseCreated with the milestones in the given order', () =>
    given()
      .when({
        type: 'CreateRelease',
        data: {
          releaseId: 7,
          projectId: 29,
          tagName: 'v0.3',
          name: 'New Release',
          description: 'notes',
          milestones: ['v1.0', 'v1.1'],
        },
      })
      .then([created]));

  it('given no events and no name, then the name defaults to the tag and the description to null', () =>
    given()
      .when({ type: 'CreateRelease', data: { releaseId: 1, projectId: 2, tagName: 'v1', milestones: [] } })
      .then([
        {
          type: 'ReleaseCreated',
          data: { release_id: 1, project_id: 2, tag_name: 'v1', name: 'v1', description: null, milestones: [] },
        },
      ]));

  it('given ReleaseCreated, then it is a conflict', () =>
    given(created)
      .when({ type: 'CreateRelease', data: { releaseId: 7, projectId: 29, tagName: 'v0.3', milestones: [] } })
      .thenThrows(ConflictError));
});

describe('release decider: UpdateRelease', () => {
  it('given ReleaseCreated, when the name changes, then ReleaseUpdated with old and new name', () =>
    given(created)
      .when({ type: 'UpdateRelease', data: { name: 'Final' } })
      .then([
        {
          type: 'ReleaseUpdated',
          data: { ...ref, name: 'Final', changes: { name: { from: 'New Release', to: 'Final' } } },
        },
      ]));

  it('given ReleaseCreated, when name and description change, then one ReleaseUpdated naming both', () =>
    given(created)
      .when({ type: 'UpdateRelease', data: { name: 'Final', description: null } })
      .then([
        {
          type: 'ReleaseUpdated',
          data: {
            ...ref,
            name: 'Final',
            changes: { name: { from: 'New Release', to: 'Final' }, description: { from: 'notes', to: null } },
          },
        },
      ]));

  it('given ReleaseCreated, when the milestones change, then ReleaseMilestonesChanged with old and new lists', () =>
    given(created)
      .when({ type: 'UpdateRelease', data: { milestones: ['v2.0', 'v1.0'] } })
      .then([{ type: 'ReleaseMilestonesChanged', data: { ...ref, from: ['v1.0', 'v1.1'], to: ['v2.0', 'v1.0'] } }]));

  it('given ReleaseCreated, when name and milestones change, then both events, the second carrying the new name', () =>
    given(created)
      .when({ type: 'UpdateRelease', data: { name: 'Final', milestones: [] } })
      .then([
        {
          type: 'ReleaseUpdated',
          data: { ...ref, name: 'Final', changes: { name: { from: 'New Release', to: 'Final' } } },
        },
        { type: 'ReleaseMilestonesChanged', data: { ...ref, name: 'Final', from: ['v1.0', 'v1.1'], to: [] } },
      ]));

  it('given ReleaseCreated, when the update repeats the current values, then nothing', () =>
    given(created)
      .when({
        type: 'UpdateRelease',
        data: { name: 'New Release', description: 'notes', milestones: ['v1.0', 'v1.1'] },
      })
      .then([]));

  it('given ReleaseCreated, when the milestones are only reordered, then nothing', () =>
    given(created)
      .when({ type: 'UpdateRelease', data: { milestones: ['v1.1', 'v1.0'] } })
      .then([]));

  it('given ReleaseCreated and ReleaseUpdated, then the update is decided against the updated state', () =>
    given(created, {
      type: 'ReleaseUpdated',
      data: { ...ref, name: 'Final', changes: { name: { from: 'New Release', to: 'Final' } } },
    })
      .when({ type: 'UpdateRelease', data: { name: 'Final' } })
      .then([]));

  it('given no events, then the release is not found', () =>
    given()
      .when({ type: 'UpdateRelease', data: { name: 'x' } })
      .thenThrows(NotFoundError));
  it('given ReleaseDeleted, then the release is not found', () =>
    given(created, deleted)
      .when({ type: 'UpdateRelease', data: { name: 'x' } })
      .thenThrows(NotFoundError));
});

describe('release decider: DeleteRelease', () => {
  it('given ReleaseCreated, then ReleaseDeleted', () => given(created).when({ type: 'DeleteRelease' }).then([deleted]));
  it('given ReleaseDeleted, then not found', () =>
    given(created, deleted).when({ type: 'DeleteRelease' }).thenThrows(NotFoundError));
  it('given ReleaseDeleted, when CreateRelease on the same stream, then conflict (a new tag gets a new stream)', () =>
    given(created, deleted)
      .when({ type: 'CreateRelease', data: { releaseId: 7, projectId: 29, tagName: 'v0.3', milestones: [] } })
      .thenThrows(ConflictError));
});

describe('release decider: CollectEvidence', () => {
  const at = new Date('2026-11-21T10:00:00.000Z');
  it('given ReleaseCreated, then ReleaseEvidenceCollected with a sha256 of the release as it is', () => {
    const [event] = decide(
      { type: 'CollectEvidence', data: { evidenceId: 5, collectedAt: at } },
      evolve(releaseDecider.initialState, created),
    );
    expect(event).toEqual({
      type: 'ReleaseEvidenceCollected',
      data: { ...ref, evidence_id: 5, sha: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
  });
  it('given a changed release, then the evidence sha differs', () => {
    const sha = (...events: ReleaseEvent[]) =>
      decide({ type: 'CollectEvidence', data: { evidenceId: 5, collectedAt: at } }, fold(releaseDecider, events))[0]
        .data;
    expect(sha(created)).not.toEqual(sha(created, linkAdded));
  });
  it('given ReleaseDeleted, then not found', () =>
    given(created, deleted)
      .when({ type: 'CollectEvidence', data: { evidenceId: 5, collectedAt: at } })
      .thenThrows(NotFoundError));
});

describe('release decider: asset links and downloads', () => {
  it('given ReleaseCreated, when AddAssetLink, then ReleaseAssetLinkAdded', () =>
    given(created)
      .when({ type: 'AddAssetLink', data: { linkId: 3, name: 'binary', url: 'https://example.com/bin.tgz' } })
      .then([linkAdded]));
  it('given a link of that name, then conflict on name', () =>
    given(created, linkAdded)
      .when({ type: 'AddAssetLink', data: { linkId: 4, name: 'binary', url: 'https://example.com/other' } })
      .thenThrows(ConflictError));
  it('given a link to that URL, then conflict on url', () =>
    given(created, linkAdded)
      .when({ type: 'AddAssetLink', data: { linkId: 4, name: 'other', url: 'https://example.com/bin.tgz' } })
      .thenThrows(ConflictError));
  it('given the link, when RemoveAssetLink, then ReleaseAssetLinkRemoved naming it', () =>
    given(created, linkAdded)
      .when({ type: 'RemoveAssetLink', data: { linkId: 3 } })
      .then([{ type: 'ReleaseAssetLinkRemoved', data: { ...ref, ...link } }]));
  it('given the link was removed, when RemoveAssetLink again, then not found', () =>
    given(created, linkAdded, { type: 'ReleaseAssetLinkRemoved', data: { ...ref, ...link } })
      .when({ type: 'RemoveAssetLink', data: { linkId: 3 } })
      .thenThrows(NotFoundError));
  it('given the link, when RecordDownload, then ReleaseArtifactDownloaded naming the link', () =>
    given(created, linkAdded)
      .when({ type: 'RecordDownload', data: { linkId: 3 } })
      .then([{ type: 'ReleaseArtifactDownloaded', data: { ...ref, ...link } }]));
  it('given no such link, when RecordDownload, then not found', () =>
    given(created)
      .when({ type: 'RecordDownload', data: { linkId: 9 } })
      .thenThrows(NotFoundError));
  it('given downloads in the stream, then the state is unchanged by them', () => {
    const download: ReleaseEvent = { type: 'ReleaseArtifactDownloaded', data: { ...ref, ...link } };
    expect(fold(releaseDecider, [created, linkAdded, download])).toEqual(fold(releaseDecider, [created, linkAdded]));
  });
});
