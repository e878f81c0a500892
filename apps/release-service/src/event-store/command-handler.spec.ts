import { Telemetry } from '@audit/telemetry';
import { CommandMetadata, DomainEvent } from '@audit/contracts';
import { ConflictError } from '@audit/kernel';
import { Outbox, OutboxRelay } from '@audit/outbox';
import { Sql, Statement } from '@audit/sql';
import { milestoneDecider } from '../milestones/milestone.decider';
import { ReleaseCommand, releaseDecider } from '../releases/release.decider';
import { CommandHandler } from './command-handler';
import { EventStore, VersionConflictError } from './event-store.service';
import { IdAllocator } from './id-allocator';
import { WriteDatabase } from './write-database';

/*
 * The command handler's round trips, counted on a recording executor: they are the write path's
 * cost (bench/release-service.bench.ts), so a refactoring must not add any.
 */

type Reply = (text: string, params: readonly unknown[]) => unknown[];

/** A write pool whose statements are recorded and answered by `reply`; BEGIN and COMMIT count as round trips. */
function recordingDatabase(reply: Reply) {
  const log: string[] = [];
  const afterCommit: Array<() => void> = [];
  const executor = (inTransaction: boolean): Sql => ({
    query: async <T>(text: string, params: readonly unknown[] = []) => {
      log.push(text.trim().split(/\s+/).slice(0, 3).join(' '));
      return reply(text, params) as T[];
    },
    afterCommit: (callback) => (inTransaction ? afterCommit.push(callback) : callback()),
  });
  const db = {
    autocommit: executor(false),
    async transaction<T>(work: (tx: Sql) => Promise<T>): Promise<T> {
      log.push('begin');
      try {
        const result = await work(executor(true));
        log.push('commit');
        afterCommit.splice(0).forEach((callback) => callback());
        return result;
      } catch (err) {
        log.push('rollback');
        afterCommit.length = 0;
        throw err;
      }
    },
  };
  return { db: db as unknown as WriteDatabase, log };
}

function handlerOn(reply: Reply) {
  const { db, log } = recordingDatabase(reply);
  const relay = { wake: jest.fn() };
  const outbox = new Outbox({ KAFKA_TOPIC: 'topic' }, relay as unknown as OutboxRelay, Telemetry.disabled());
  const ids = { next: jest.fn(async () => 7) } as unknown as IdAllocator;
  return { handler: new CommandHandler(db, new EventStore(outbox), ids), log, relay, ids };
}

const meta: CommandMetadata = {
  actor: { id: 1, name: 'root', ip_address: '127.0.0.1' },
  correlationId: 'corr',
  now: new Date('2026-11-24T10:00:00.000Z'),
};
const scope = { entity_type: 'Project' as const, entity_id: 29, entity_path: 'acme/app' };
const readModelRow: Statement = { text: 'insert into read_model (id) values ($1)', params: [7] };

const createdEnvelope = (version: number): DomainEvent => ({
  id: '00000000-0000-4000-8000-000000000001',
  type: 'ReleaseCreated',
  schema_version: 1,
  occurred_at: meta.now.toISOString(),
  aggregate: { type: 'Release', id: '7', version },
  actor: meta.actor,
  scope,
  correlation_id: 'corr',
  data: { release_id: 7, project_id: 29, tag_name: 'v1', name: 'v1', description: null, milestones: [] },
});

/** Answers the stream read with one ReleaseCreated, and the append with a version conflict `conflicts` times. */
function releaseStream(conflicts = 0): Reply {
  let left = conflicts;
  return (text) => {
    if (text.includes('from event_store')) return [{ version: 1, events: [createdEnvelope(1)] }];
    if (text.startsWith('with') && left-- > 0)
      throw Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'event_store_stream_version' });
    return [{ id: 7 }];
  };
}

const onRelease = (handler: CommandHandler, command: ReleaseCommand, retries = 0) =>
  handler.handleCommand({
    decider: releaseDecider,
    aggregateType: 'Release',
    stream: { find: async (sql) => (await sql.query<{ id: number }>('select id from releases', []))[0].id },
    scope,
    meta,
    command: () => command,
    project: () => [readModelRow],
    retries,
    result: ({ events, state }) => ({ events, state }),
  });

describe('CommandHandler', () => {
  it('creates a new stream in one autocommitted statement: event, read model, outbox and NOTIFY together', async () => {
    const { handler, log, relay } = handlerOn(() => []);
    const milestone = await handler.handleCommand({
      decider: milestoneDecider,
      aggregateType: 'Milestone',
      stream: { sequence: 'milestone_ids' },
      scope,
      meta,
      command: ({ id }) => ({
        type: 'CreateMilestone',
        data: { milestoneId: id, projectId: 29, title: 'v1.0', titleTaken: false },
      }),
      project: () => [readModelRow],
      result: ({ id, events }) => ({ id, events }),
    });
    expect(log).toEqual(['with s0 as']);
    expect(milestone.id).toBe(7);
    expect(milestone.events[0]).toMatchObject({
      type: 'MilestoneCreated',
      aggregate: { type: 'Milestone', id: '7', version: 1 },
      scope,
      data: { milestone_id: 7, project_id: 29, title: 'v1.0' },
    });
    expect(relay.wake).toHaveBeenCalledTimes(1);
  });

  it('composes the event store insert, the read-model writes and the outbox insert into one statement, with $n placeholders', async () => {
    const statements: Array<{ text: string; params: readonly unknown[] }> = [];
    const { handler } = handlerOn((text, params) => (statements.push({ text, params }), []));
    await handler.handleCommand({
      decider: milestoneDecider,
      aggregateType: 'Milestone',
      stream: { sequence: 'milestone_ids' },
      scope,
      meta,
      command: ({ id }) => ({
        type: 'CreateMilestone',
        data: { milestoneId: id, projectId: 29, title: 'v1.0', titleTaken: false },
      }),
      project: () => [readModelRow],
      result: () => undefined,
    });
    const [{ text, params }] = statements;
    expect(text).toMatch(
      /^with s0 as \(insert into event_store .*\), s1 as \(insert into read_model .*\), s2 as \(insert into outbox .*\) select pg_notify/,
    );
    expect(text).not.toContain('?');
    expect(Math.max(...[...text.matchAll(/\$(\d+)/g)].map((m) => Number(m[1])))).toBe(params.length);
    expect(params.slice(0, 2)).toEqual(['Milestone-7', 1]);
  });

  it('runs a command on an existing stream in one transaction: find, read, append, answer', async () => {
    const { handler, log, relay } = handlerOn(releaseStream());
    const { events, state } = await onRelease(handler, { type: 'DeleteRelease' });
    expect(log).toEqual([
      'begin',
      'select id from',
      'select coalesce(max(stream_version), 0)::int',
      'with s0 as',
      'commit',
    ]);
    expect(events.map((e) => [e.type, e.aggregate.version])).toEqual([['ReleaseDeleted', 2]]);
    expect(state).toMatchObject({ status: 'Deleted' });
    expect(relay.wake).toHaveBeenCalledTimes(1);
  });

  it('appends nothing, and wakes no relay, when the decider decides nothing', async () => {
    const { handler, log, relay } = handlerOn(releaseStream());
    const { events } = await onRelease(handler, { type: 'UpdateRelease', data: { name: 'v1' } });
    expect(events).toEqual([]);
    expect(log).toEqual(['begin', 'select id from', 'select coalesce(max(stream_version), 0)::int', 'commit']);
    expect(relay.wake).not.toHaveBeenCalled();
  });

  it('retries a version conflict from the start as often as allowed, then answers 409', async () => {
    const retried = handlerOn(releaseStream(2));
    await expect(onRelease(retried.handler, { type: 'DeleteRelease' }, 2)).resolves.toBeDefined();
    expect(retried.log.filter((l) => l === 'begin')).toHaveLength(3);
    expect(retried.log.filter((l) => l === 'rollback')).toHaveLength(2);
    expect(retried.relay.wake).toHaveBeenCalledTimes(1);

    const refused = handlerOn(releaseStream(1));
    await expect(onRelease(refused.handler, { type: 'DeleteRelease' })).rejects.toThrow(VersionConflictError);
    expect(refused.relay.wake).not.toHaveBeenCalled();
  });

  it('turns a unique violation of a named constraint into its domain error', async () => {
    const { handler } = handlerOn(() => {
      throw Object.assign(new Error('duplicate key'), { code: '23505', constraint: 'milestones_project_title' });
    });
    const create = handler.handleCommand({
      decider: milestoneDecider,
      aggregateType: 'Milestone',
      stream: { sequence: 'milestone_ids' },
      scope,
      meta,
      command: ({ id }) => ({
        type: 'CreateMilestone',
        data: { milestoneId: id, projectId: 29, title: 'v1.0', titleTaken: false },
      }),
      uniqueViolations: { milestones_project_title: () => new ConflictError('Milestone v1.0 already exists') },
      result: () => undefined,
    });
    await expect(create).rejects.toThrow('Milestone v1.0 already exists');
  });
});
