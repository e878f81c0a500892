import { waitFor } from '@audit/testing';
import { Fixture } from './endpoints';
import { query } from './db-snapshot';

/*
 * One of everything a path can name (group, project, milestone, release, link, audit event,
 * destinations with a header and a delivery, at group and instance level), so hostile requests
 * reach the handlers' real code paths rather than stopping at "not found".
 */
export interface Urls {
  release: string;
  recorder: string;
  streamer: string;
}

async function call(
  method: string,
  url: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Record<string, unknown> & Array<Record<string, unknown>> }> {
  const res = await fetch(url, {
    method,
    headers: { Authorization: token, 'Content-Type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, body: text ? JSON.parse(text) : {} };
}

async function created(method: string, url: string, token: string, body?: unknown): Promise<Record<string, unknown>> {
  const res = await call(method, url, token, body);
  if (res.status !== 201) throw new Error(`${method} ${url} answered ${res.status}: ${JSON.stringify(res.body)}`);
  return res.body;
}

export async function createFixture(
  urls: Urls,
  token: string,
  groupPath: string,
  receiverUrl: string,
): Promise<Fixture> {
  const api = `${urls.release}/api/v4`;
  const group = await created('POST', `${api}/groups`, token, { path: groupPath, name: 'Hostile' });
  const project = await created('POST', `${api}/projects`, token, {
    path: 'target',
    name: 'Target',
    namespace_id: group['id'],
  });
  const projectApi = `${api}/projects/${project['id']}`;
  await created('POST', `${projectApi}/milestones`, token, { title: 'm1' });
  await created('POST', `${projectApi}/releases`, token, { tag_name: 'v1.0', name: 'One', milestones: ['m1'] });
  const link = await created('POST', `${projectApi}/releases/v1.0/assets/links`, token, {
    name: 'bin',
    url: 'https://example.com/bin',
  });
  const streams = `${urls.streamer}/api/v4/groups/${group['id']}/audit_events/streaming/destinations`;
  const admin = `${urls.streamer}/api/v4/admin/audit_events/streaming/destinations`;
  const destination = await waitFor('the streamer to know the group', async () => {
    const res = await call('POST', streams, token, { destination_url: `${receiverUrl}/group` });
    return res.status === 201
      ? res.body
      : res.status === 404
        ? undefined
        : Promise.reject(new Error(`${res.status} ${JSON.stringify(res.body)}`));
  });
  const header = await created('POST', `${streams}/${destination['id']}/headers`, token, {
    key: 'X-Tenant',
    value: 'hostile',
  });
  const adminDestination = await created('POST', admin, token, { destination_url: `${receiverUrl}/instance` });
  const adminHeader = await created('POST', `${admin}/${adminDestination['id']}/headers`, token, {
    key: 'X-Tenant',
    value: 'hostile',
  });
  // A release event after both destinations exist, so each has a delivery to name.
  await created('POST', `${projectApi}/releases/v1.0/evidence`, token);
  // A second release (and so a second delivery each): every list the Host class asks for a page of
  // one (releases, deliveries, audit events) has a next page, whose Link it judges.
  await created('POST', `${projectApi}/releases`, token, { tag_name: 'v0.9', name: 'Second' });
  const auditEvent = await waitFor(
    'the recorder to store the fixture',
    async () => (await call('GET', `${urls.recorder}/api/v4/projects/${project['id']}/audit_events`, token)).body[0],
  );
  const firstDelivery = async (url: string) =>
    waitFor(
      `a delivery at ${url}`,
      async () => (await call('GET', `${url}/deliveries?status=delivered`, token)).body[0],
    );
  return {
    groupId: String(group['id']),
    groupPath,
    projectId: String(project['id']),
    tag: 'v1.0',
    milestone: 'm1',
    linkId: String(link['id']),
    auditEventId: String(auditEvent['id']),
    destinationId: String(destination['id']),
    headerId: String(header['id']),
    deliveryId: String((await firstDelivery(`${streams}/${destination['id']}`))['id']),
    adminDestinationId: String(adminDestination['id']),
    adminHeaderId: String(adminHeader['id']),
    adminDeliveryId: String((await firstDelivery(`${admin}/${adminDestination['id']}`))['id']),
    receiverUrl,
  };
}

/**
 * Waits until nothing moves any more: every outbox row published, no delivery pending, and two
 * digests of every table taken a poll apart agree. Only then is a before/after comparison fair.
 */
export async function quiesce(
  databases: Record<'release' | 'recorder' | 'streamer', string>,
  take: () => Promise<string>,
  timeoutMs = 60_000,
): Promise<void> {
  let last = '';
  await waitFor(
    'the services to settle',
    async () => {
      for (const db of Object.values(databases)) {
        const [row] = await query<{ n: string }>(db, 'SELECT count(*) AS n FROM outbox WHERE published_at IS NULL');
        if (Number(row.n) > 0) return false;
      }
      const [pending] = await query<{ n: string }>(
        databases.streamer,
        "SELECT count(*) AS n FROM deliveries WHERE status <> 'delivered'",
      );
      if (Number(pending.n) > 0) return false;
      const now = await take();
      const stable = now === last;
      last = now;
      return stable;
    },
    { timeoutMs, intervalMs: 700 },
  );
}
