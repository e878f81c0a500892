import { DomainEventOf } from '@audit/contracts';
import { ConflictError, Decider } from '@audit/kernel';

/*
 * A milestone is a stream whose only event is its creation. A title is unique per project: the
 * service passes what the read model knows, and a unique index settles concurrent creations.
 */
export type MilestoneEvent = { type: 'MilestoneCreated'; data: DomainEventOf<'MilestoneCreated'>['data'] };
export type MilestoneCommand = {
  type: 'CreateMilestone';
  data: { milestoneId: number; projectId: number; title: string; titleTaken: boolean };
};
export type MilestoneState = { status: 'Initial' } | { status: 'Created'; title: string };

function decide(command: MilestoneCommand, state: MilestoneState): MilestoneEvent[] {
  const { milestoneId, projectId, title, titleTaken } = command.data;
  if (state.status !== 'Initial' || titleTaken)
    throw new ConflictError(`Milestone ${title} already exists`, [
      { field: 'title', message: 'has already been taken' },
    ]);
  return [{ type: 'MilestoneCreated', data: { milestone_id: milestoneId, project_id: projectId, title } }];
}

const evolve = (_state: MilestoneState, event: MilestoneEvent): MilestoneState => ({
  status: 'Created',
  title: event.data.title,
});

export const milestoneDecider: Decider<MilestoneCommand, MilestoneEvent, MilestoneState> = {
  decide,
  evolve,
  initialState: { status: 'Initial' },
};
