import { waitFor } from '@audit/testing';
import { v5 as uuidv5 } from 'uuid';
import { dlqDepth, isStreamed, withDatabase } from './checks';
import { Action } from './load';
import { Platform } from './platform';
import { recordRow, ScenarioRow } from './report';

/**
 * The event-by-event check of a scenario. From release-service's event store, each accepted action's
 * domain event and so the id of the audit event it must become; then what the recorder stored and
 * what each receiver was answered 2xx for, compared id by id with that expectation.
 */

/**
 * The audit event id contract (docs/contracts.md: a UUIDv5 of the domain event id and the audit type),
 * restated from libs/audit/mapping's auditEventIdFor rather than imported: the suite checks the
 * recorder's ids independently, and lint keeps end-to-end code off the domain libraries.
 */
const AUDIT_EVENT_ID_NAMESPACE = '6f1c8e0a-2f7b-5d3e-9c41-8a7b2d5e4f10';
export const expectedAuditEventId = (domainEventId: string, auditType: string): string =>
  uuidv5(`${domainEventId}/${auditType}`, AUDIT_EVENT_ID_NAMESPACE);

const DOMAIN_TYPE: Record<Action['eventType'], string> = {
  release_created: 'ReleaseCreated',
  release_updated: 'ReleaseUpdated',
};

export interface ExpectedEvent {
  id: string;
  eventType: string;
  targetId: number;
  correlationId: string;
}

interface StoredEvent {
  id: string;
  event_type: string;
  target_id: number;
  correlation_id: string;
}

export interface DestinationVerdict {
  name: string;
  expected: number;
  delivered: number;
  missing: ExpectedEvent[];
  /** Load events delivered that the destination's filter excludes. */
  unexpected: string[];
  duplicates: number;
}

export interface Verdict {
  accepted: Action[];
  /** Accepted actions without exactly one domain event of the right type in the event store. */
  notAppended: Array<{ correlationId: string; domainEvents: string[] }>;
  expected: ExpectedEvent[];
  stored: number;
  missing: ExpectedEvent[];
  /** Stored audit events of the load that no accepted action explains. */
  unexpected: StoredEvent[];
  /** Stored with the expected id but another type or target. */
  mismatched: Array<{ expected: ExpectedEvent; stored: StoredEvent }>;
  /** More than one stored audit event for one action (by correlation id and type), or one id twice. */
  duplicates: Array<{ key: string; rows: number }>;
  destinations: DestinationVerdict[];
  dlq: number;
  convergedInMs: number | null;
}

/** Each accepted action's expected audit event, from the domain event the action appended. */
export async function expectedFromEventStore(
  platform: Platform,
  accepted: Action[],
): Promise<Pick<Verdict, 'expected' | 'notAppended'>> {
  const { rows } = await withDatabase(platform.databases.release, (db) =>
    db.query<{ event_id: string; event_type: string; correlation_id: string }>(
      "select event_id::text, event_type, payload->>'correlation_id' as correlation_id from event_store where payload->>'correlation_id' = any($1::text[])",
      [accepted.map((a) => a.correlationId)],
    ),
  );
  const byCorrelation = new Map<string, typeof rows>();
  for (const row of rows)
    byCorrelation.set(row.correlation_id, [...(byCorrelation.get(row.correlation_id) ?? []), row]);
  const expected: ExpectedEvent[] = [];
  const notAppended: Verdict['notAppended'] = [];
  for (const action of accepted) {
    const events = byCorrelation.get(action.correlationId) ?? [];
    if (events.length !== 1 || events[0].event_type !== DOMAIN_TYPE[action.eventType]) {
      notAppended.push({ correlationId: action.correlationId, domainEvents: events.map((e) => e.event_type) });
      continue;
    }
    expected.push({
      id: expectedAuditEventId(events[0].event_id, action.eventType),
      eventType: action.eventType,
      targetId: action.releaseId as number,
      correlationId: action.correlationId,
    });
  }
  return { expected, notAppended };
}

async function storedOf(
  platform: Platform,
  correlationIds: string[],
): Promise<{ rows: StoredEvent[]; idsTwice: number }> {
  return withDatabase(platform.databases.recorder, async (db) => {
    const { rows } = await db.query<StoredEvent>(
      "select id::text, event_type, target_id::int as target_id, payload->'details'->>'correlation_id' as correlation_id from audit_events where payload->'details'->>'correlation_id' = any($1::text[])",
      [correlationIds],
    );
    // The primary key makes this 0; counted anyway, so the column means what it says.
    const twice = await db.query<{ n: number }>(
      'select count(*)::int as n from (select id from audit_events group by id having count(*) > 1) d',
    );
    return { rows, idsTwice: twice.rows[0].n };
  });
}

async function storedCount(platform: Platform, ids: string[]): Promise<number> {
  return withDatabase(
    platform.databases.recorder,
    async (db) =>
      (await db.query<{ n: number }>('select count(*)::int as n from audit_events where id = any($1::uuid[])', [ids]))
        .rows[0].n,
  );
}

const wants = (filters: string[], e: ExpectedEvent) =>
  isStreamed(e.eventType) && (filters.length === 0 || filters.includes(e.eventType));

function everythingDelivered(platform: Platform, expected: ExpectedEvent[]): boolean {
  return platform.destinations.every((d) => {
    const delivered = d.receiver.delivered();
    return expected.every((e) => !wants(d.filters, e) || delivered.has(e.id));
  });
}

/** Waits until the recorder stored and every destination received everything expected (or the deadline passes). */
async function converge(platform: Platform, expected: ExpectedEvent[], timeoutMs: number): Promise<number | null> {
  const started = Date.now();
  const ids = expected.map((e) => e.id);
  try {
    await waitFor(
      'the recorder to store and every destination to receive every accepted action',
      async () => everythingDelivered(platform, expected) && (await storedCount(platform, ids)) === ids.length,
      { timeoutMs, intervalMs: 500 },
    );
    return Date.now() - started;
  } catch {
    return null; // the comparison below names what is missing
  }
}

function compareDestinations(
  platform: Platform,
  expected: ExpectedEvent[],
  loadCorrelations: Set<string>,
): DestinationVerdict[] {
  return platform.destinations.map((d) => {
    const wanted = expected.filter((e) => wants(d.filters, e));
    const wantedIds = new Set(wanted.map((e) => e.id));
    const delivered = [...d.receiver.delivered()].filter(([, v]) => loadCorrelations.has(v.correlationId));
    const deliveredIds = new Set(delivered.map(([id]) => id));
    return {
      name: d.name,
      expected: wanted.length,
      delivered: delivered.filter(([id]) => wantedIds.has(id)).length,
      missing: wanted.filter((e) => !deliveredIds.has(e.id)),
      unexpected: delivered.filter(([id]) => !wantedIds.has(id)).map(([id, v]) => `${id} ${v.eventType}`),
      duplicates: delivered.reduce((sum, [, v]) => sum + v.count - 1, 0),
    };
  });
}

export async function verify(
  platform: Platform,
  accepted: Action[],
  { timeoutMs }: { timeoutMs: number },
): Promise<Verdict> {
  const { expected, notAppended } = await expectedFromEventStore(platform, accepted);
  const convergedInMs = await converge(platform, expected, timeoutMs);
  const correlations = new Set(accepted.map((a) => a.correlationId));
  const { rows, idsTwice } = await storedOf(platform, [...correlations]);
  const storedById = new Map(rows.map((r) => [r.id, r]));
  const perAction = new Map<string, number>();
  for (const r of rows)
    perAction.set(
      `${r.correlation_id} ${r.event_type}`,
      (perAction.get(`${r.correlation_id} ${r.event_type}`) ?? 0) + 1,
    );
  const expectedIds = new Set(expected.map((e) => e.id));
  const mismatched = expected.flatMap((e) => {
    const s = storedById.get(e.id);
    return s && (s.event_type !== e.eventType || s.target_id !== e.targetId || s.correlation_id !== e.correlationId)
      ? [{ expected: e, stored: s }]
      : [];
  });
  return {
    accepted,
    notAppended,
    expected,
    stored: rows.length,
    missing: expected.filter((e) => !storedById.has(e.id)),
    unexpected: rows.filter((r) => !expectedIds.has(r.id)),
    mismatched,
    duplicates: [
      ...[...perAction].filter(([, n]) => n > 1).map(([key, n]) => ({ key, rows: n })),
      ...(idsTwice > 0 ? [{ key: 'the same id', rows: idsTwice }] : []),
    ],
    destinations: compareDestinations(platform, expected, correlations),
    dlq: await dlqDepth(platform),
    convergedInMs,
  };
}

/** The scenario's row of the results table; printed and appended before any assertion can fail. */
export function reportRow(
  scenario: string,
  verdict: Verdict,
  extra: { injected?: number; notes?: string[]; failover?: string; maxInFlight?: number } = {},
): ScenarioRow {
  const row: ScenarioRow = {
    scenario,
    actionsAccepted: verdict.accepted.length + (extra.injected ?? 0),
    auditEventsStored: verdict.stored,
    duplicatesInDatabase: verdict.duplicates.reduce((sum, d) => sum + d.rows - 1, 0),
    eventsMissing: verdict.missing.length + verdict.notAppended.length,
    deliveriesPerDestination: Object.fromEntries(verdict.destinations.map((d) => [d.name, d.delivered])),
    duplicatesDelivered: verdict.destinations.reduce((sum, d) => sum + d.duplicates, 0),
    messagesInDlq: verdict.dlq,
    ...(extra.failover === undefined ? {} : { failover: extra.failover }),
    ...(extra.maxInFlight === undefined ? {} : { maxInFlight: extra.maxInFlight }),
    notes: [
      ...(extra.notes ?? []),
      verdict.convergedInMs === null
        ? 'did not converge'
        : `converged ${(verdict.convergedInMs / 1000).toFixed(1)} s after the fault`,
    ].join('; '),
  };
  recordRow(row);
  return row;
}

const firstOf = <T>(list: T[]) => ({ count: list.length, first: list.slice(0, 10) });
const none = { count: 0, first: [] };

/** Event by event: nothing missing, nothing duplicated or unexplained, every destination served. */
export function expectNothingLost(verdict: Verdict): void {
  expect(verdict.accepted.length).toBeGreaterThan(0);
  expect(firstOf(verdict.notAppended)).toEqual(none);
  expect(firstOf(verdict.missing)).toEqual(none);
  expect(firstOf(verdict.duplicates)).toEqual(none);
  expect(firstOf(verdict.unexpected)).toEqual(none);
  expect(firstOf(verdict.mismatched)).toEqual(none);
  for (const d of verdict.destinations) {
    expect({ destination: d.name, missing: firstOf(d.missing), unexpected: firstOf(d.unexpected) }).toEqual({
      destination: d.name,
      missing: none,
      unexpected: none,
    });
    expect(d.delivered).toBe(d.expected);
  }
  expect(verdict.stored).toBe(verdict.expected.length);
}
