import { ConflictError } from '@audit/platform';
import { decide, evolve, initialReleaseState, ReleaseEvent } from './release.decider';

const created: ReleaseEvent = {
  type: 'ReleaseCreated',
  data: { release_id: 7, project_id: 29, tag_name: 'v0.3', name: 'New Release', description: null, milestones: ['v1.0', 'v1.1'] },
};

describe('release decider', () => {
  it('given no events, when CreateRelease, then ReleaseCreated with the milestones in the given order', () => {
    const events = decide(
      { type: 'CreateRelease', data: { releaseId: 7, projectId: 29, tagName: 'v0.3', name: 'New Release', milestones: ['v1.0', 'v1.1'] } },
      initialReleaseState(),
    );
    expect(events).toEqual([created]);
  });

  it('given no events, when CreateRelease without a name, then the name defaults to the tag', () => {
    const [event] = decide({ type: 'CreateRelease', data: { releaseId: 1, projectId: 2, tagName: 'v1', milestones: [] } }, initialReleaseState());
    expect(event.data.name).toBe('v1');
    expect(event.data.description).toBeNull();
  });

  it('given ReleaseCreated, when CreateRelease again, then it is a conflict', () => {
    const state = evolve(initialReleaseState(), created);
    expect(() =>
      decide({ type: 'CreateRelease', data: { releaseId: 7, projectId: 29, tagName: 'v0.3', milestones: [] } }, state),
    ).toThrow(ConflictError);
  });
});
