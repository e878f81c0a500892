import { ConflictError } from '@audit/kernel';
import { milestoneDecider, MilestoneEvent } from './milestone.decider';

const { decide, evolve, initialState } = milestoneDecider;

const created: MilestoneEvent = { type: 'MilestoneCreated', data: { milestone_id: 4, project_id: 29, title: 'v1.0' } };
const create = (titleTaken = false) => ({
  type: 'CreateMilestone' as const,
  data: { milestoneId: 4, projectId: 29, title: 'v1.0', titleTaken },
});

describe('milestone decider', () => {
  it('given no events, when CreateMilestone, then MilestoneCreated', () =>
    expect(decide(create(), initialState)).toEqual([created]));
  it('given no events, when the title is taken in the project, then conflict on title', () =>
    expect(() => decide(create(true), initialState)).toThrow(ConflictError));
  it('given MilestoneCreated, when CreateMilestone on the same stream, then conflict', () =>
    expect(() => decide(create(), evolve(initialState, created))).toThrow(ConflictError));
});
