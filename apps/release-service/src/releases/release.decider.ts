import { ConflictError } from '@audit/platform';

/*
 * The release aggregate, decided by pure functions over its past events: no clock, no database.
 * The service feeds it the stream and appends what it decides.
 */
export type ReleaseState =
  | { status: 'Initial' }
  | { status: 'Active'; tagName: string; name: string; description: string | null; milestones: string[] }
  | { status: 'Deleted'; tagName: string };

export type ReleaseEvent = {
  type: 'ReleaseCreated';
  data: { release_id: number; project_id: number; tag_name: string; name: string; description: string | null; milestones: string[] };
};

export type ReleaseCommand = {
  type: 'CreateRelease';
  data: { releaseId: number; projectId: number; tagName: string; name?: string; description?: string | null; milestones: string[] };
};

export const initialReleaseState = (): ReleaseState => ({ status: 'Initial' });

export function decide(command: ReleaseCommand, state: ReleaseState): ReleaseEvent[] {
  switch (command.type) {
    case 'CreateRelease': {
      if (state.status !== 'Initial') throw new ConflictError(`Release ${command.data.tagName} already exists`);
      const { releaseId, projectId, tagName, name, description, milestones } = command.data;
      return [
        {
          type: 'ReleaseCreated',
          data: { release_id: releaseId, project_id: projectId, tag_name: tagName, name: name ?? tagName, description: description ?? null, milestones },
        },
      ];
    }
    default: {
      const unhandled: never = command.type;
      throw new Error(`unknown command ${String(unhandled)}`);
    }
  }
}

export function evolve(state: ReleaseState, event: ReleaseEvent): ReleaseState {
  switch (event.type) {
    case 'ReleaseCreated':
      return { status: 'Active', tagName: event.data.tag_name, name: event.data.name, description: event.data.description, milestones: event.data.milestones };
    default:
      return state;
  }
}
