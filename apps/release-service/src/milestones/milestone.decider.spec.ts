import { ConflictError } from '@audit/platform';
import { decideMilestone, evolveMilestone, initialMilestoneState, MilestoneEvent } from './milestone.decider';

const created: MilestoneEvent = { type: 'MilestoneCreated', data: { milestone_id: 4, project_id: 29, title: 'v1.0' } };
const create = (titleTaken = false) => ({
  type: 'CreateMilestone' as const,
  data: { milestoneId: 4, projectId: 29, title: 'v1.0', titleTaken },
});

describe('milestone decider', () => {
  it('given no events, when CreateMilestone, then MilestoneCreated', () =>
    expect(decideMilestone(create(), initialMilestoneState())).toEqual([created]));
  it('given no events, when the title is taken in the project, then conflict on title', () =>
    expect(() => decideMilestone(create(true), initialMilestoneState())).toThrow(ConflictError));
  it('given MilestoneCreated, when CreateMilestone on the same stream, then conflict', () =>
    expect(() => decideMilestone(create(), evolveMilestone(initialMilestoneState(), created))).toThrow(ConflictError));
});
