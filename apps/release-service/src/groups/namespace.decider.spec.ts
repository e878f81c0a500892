import { ConflictError, fold } from '@audit/kernel';
import { NamespaceCommand, namespaceDecider, NamespaceEvent } from './namespace.decider';

const run = (events: NamespaceEvent[], command: NamespaceCommand) => () =>
  namespaceDecider.decide(command, fold(namespaceDecider, events));
const groupCreated: NamespaceEvent = {
  type: 'GroupCreated',
  data: { group_id: 1, path: 'acme', name: 'Acme', full_path: 'acme', parent_id: null },
};

describe('namespace decider', () => {
  it('given no events, when CreateGroup without a parent, then a top-level GroupCreated', () =>
    expect(run([], { type: 'CreateGroup', data: { groupId: 1, path: 'acme', name: 'Acme', parent: null } })()).toEqual([
      groupCreated,
    ]));

  it('given no events, when CreateGroup under a parent, then the full path extends the parent', () =>
    expect(
      run([], {
        type: 'CreateGroup',
        data: { groupId: 2, path: 'infra', name: 'Infra', parent: { id: 1, fullPath: 'acme' } },
      })(),
    ).toEqual([
      {
        type: 'GroupCreated',
        data: { group_id: 2, path: 'infra', name: 'Infra', full_path: 'acme/infra', parent_id: 1 },
      },
    ]));

  it('given no events, when CreateProject, then ProjectCreated under its group', () =>
    expect(
      run([], {
        type: 'CreateProject',
        data: { projectId: 9, path: 'api', name: 'API', namespace: { id: 2, fullPath: 'acme/infra' } },
      })(),
    ).toEqual([
      {
        type: 'ProjectCreated',
        data: { project_id: 9, path: 'api', name: 'API', full_path: 'acme/infra/api', namespace_id: 2 },
      },
    ]));

  it('given GroupCreated, when CreateGroup on the same stream, then conflict', () =>
    expect(
      run([groupCreated], { type: 'CreateGroup', data: { groupId: 1, path: 'acme', name: 'Acme', parent: null } }),
    ).toThrow(ConflictError));
});
