import { DomainEventOf } from '@audit/contracts';
import { ConflictError, Decider } from '@audit/kernel';

/*
 * Groups and projects: each is a stream whose only event is its creation. The full path is
 * decided here from the parent's; whether a path is free is a question for the read model,
 * which the service asks before deciding and a unique index settles under concurrency.
 */
export type NamespaceEvent =
  | { type: 'GroupCreated'; data: DomainEventOf<'GroupCreated'>['data'] }
  | { type: 'ProjectCreated'; data: DomainEventOf<'ProjectCreated'>['data'] };

export type NamespaceState = { status: 'Initial' } | { status: 'Created'; fullPath: string };

export type NamespaceCommand =
  | {
      type: 'CreateGroup';
      data: { groupId: number; path: string; name: string; parent: { id: number; fullPath: string } | null };
    }
  | {
      type: 'CreateProject';
      data: { projectId: number; path: string; name: string; namespace: { id: number; fullPath: string } };
    };

function decide(command: NamespaceCommand, state: NamespaceState): NamespaceEvent[] {
  if (state.status !== 'Initial') throw new ConflictError(`${state.fullPath} already exists`);
  switch (command.type) {
    case 'CreateGroup': {
      const { groupId, path, name, parent } = command.data;
      const full_path = parent ? `${parent.fullPath}/${path}` : path;
      return [
        { type: 'GroupCreated', data: { group_id: groupId, path, name, full_path, parent_id: parent?.id ?? null } },
      ];
    }
    case 'CreateProject': {
      const { projectId, path, name, namespace } = command.data;
      return [
        {
          type: 'ProjectCreated',
          data: {
            project_id: projectId,
            path,
            name,
            full_path: `${namespace.fullPath}/${path}`,
            namespace_id: namespace.id,
          },
        },
      ];
    }
    default: {
      const unhandled: never = command;
      throw new Error(`unknown command ${(unhandled as { type: string }).type}`);
    }
  }
}

function evolve(_state: NamespaceState, event: NamespaceEvent): NamespaceState {
  return { status: 'Created', fullPath: event.data.full_path };
}

export const namespaceDecider: Decider<NamespaceCommand, NamespaceEvent, NamespaceState> = {
  decide,
  evolve,
  initialState: { status: 'Initial' },
};
