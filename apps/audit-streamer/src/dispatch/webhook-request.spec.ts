import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { buildWebhook, HeaderPair } from './webhook-request';

const event = {
  id: '9d5e6b3a-1c1f-5f3e-8f0a-0c1d2e3f4a5b',
  author_id: 1,
  entity_id: 29,
  entity_type: 'Project',
  details: {
    author_name: 'alice',
    target_id: 7,
    target_type: 'Release',
    target_details: 'New Release',
    custom_message: 'Created Release v0.3',
    ip_address: '203.0.113.7',
    entity_path: 'g/p',
    correlation_id: 'c1',
  },
  ip_address: '203.0.113.7',
  author_name: 'alice',
  entity_path: 'g/p',
  target_details: 'New Release',
  created_at: '2026-11-21T10:15:30.123Z',
  target_type: 'Release',
  target_id: 7,
  event_type: 'release_created',
};

/** Every value sent under `name` (case-insensitive), read from the list without building an object from it. */
const valuesOf = (headers: readonly HeaderPair[], name: string): string[] =>
  headers.filter(([n]) => n.toLowerCase() === name.toLowerCase()).map(([, v]) => v);
const valueOf = (headers: readonly HeaderPair[], name: string): string | undefined => valuesOf(headers, name)[0];

describe('buildWebhook', () => {
  const key = randomBytes(24);
  const build = (
    payload: unknown,
    customHeaders: Array<{ key: string; value: string }> = [],
    signingSecrets = [`whsec_${key.toString('base64')}`],
  ) =>
    buildWebhook({
      auditEventId: event.id,
      eventType: event.event_type,
      payload,
      verificationToken: 'tok',
      signingSecrets,
      customHeaders,
      nowMs: 1_700_000_000_999,
    });

  it('sets the contract headers, the custom ones, and a signature over id.timestamp.body', () => {
    const { headers, body } = build(event, [{ key: 'X-Team', value: 'audit' }]);
    const mac = createHmac('sha256', key).update(`${event.id}.1700000000.${body}`).digest('base64');
    expect(headers).toEqual([
      ['X-Team', 'audit'],
      ['Content-Type', 'application/json'],
      ['X-Gitlab-Event-Streaming-Token', 'tok'],
      ['X-Gitlab-Audit-Event-Type', 'release_created'],
      ['webhook-id', event.id],
      ['webhook-timestamp', '1700000000'],
      ['webhook-signature', `v1,${mac}`],
    ]);
  });

  it('sends the payload in the order it was stored (the column is json, which keeps it)', () => {
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    expect(build(reordered).body).toBe(JSON.stringify(reordered));
  });

  it('signs with every given secret (rotation grace period), space-separated, verifiable by standardwebhooks', () => {
    const previous = `whsec_${randomBytes(24).toString('base64')}`;
    const { headers, body } = build(event, [], [`whsec_${key.toString('base64')}`, previous]);
    const signatures = (valueOf(headers, 'webhook-signature') ?? '').split(' ');
    expect(signatures).toHaveLength(2);
    const mac = createHmac('sha256', key).update(`${event.id}.1700000000.${body}`).digest('base64');
    expect(signatures[0]).toBe(`v1,${mac}`);
    const wh = new Webhook(previous);
    jest.useFakeTimers({ now: 1_700_000_000_999 });
    try {
      const standard = {
        'webhook-id': valueOf(headers, 'webhook-id') ?? '',
        'webhook-timestamp': valueOf(headers, 'webhook-timestamp') ?? '',
        'webhook-signature': valueOf(headers, 'webhook-signature') ?? '',
      };
      expect(wh.verify(body, standard)).toEqual(JSON.parse(body));
    } finally {
      jest.useRealTimers();
    }
  });

  it('never sends a stored custom header with a platform name: Content-Type, X-Gitlab-*, webhook-* (any case)', () => {
    const stored = [
      'content-type',
      'Webhook-Id',
      'webhook-anything',
      'X-Gitlab-Something',
      'x-gitlab-event-streaming-token',
      'X-GITLAB-AUDIT-EVENT-TYPE',
    ];
    const { headers } = build(event, [
      ...stored.map((k) => ({ key: k, value: 'forged' })),
      { key: 'X-Team', value: 'audit' },
    ]);
    expect(headers.filter(([, value]) => value === 'forged')).toEqual([]);
    expect(valuesOf(headers, 'content-type')).toEqual(['application/json']);
    expect(valuesOf(headers, 'x-gitlab-event-streaming-token')).toEqual(['tok']);
    expect(valuesOf(headers, 'webhook-id')).toEqual([event.id]);
    expect(valueOf(headers, 'x-gitlab-something')).toBeUndefined();
    expect(valueOf(headers, 'X-Team')).toBe('audit');
  });

  it('sends keys that are Object.prototype names exactly as stored, each once', () => {
    const names = [
      '__proto__',
      'constructor',
      'prototype',
      'hasOwnProperty',
      'toString',
      'valueOf',
      '__defineGetter__',
    ];
    const { headers } = build(
      event,
      names.map((k, i) => ({ key: k, value: `v${i}` })),
    );
    expect(headers.slice(0, names.length)).toEqual(names.map((k, i) => [k, `v${i}`]));
    expect(headers).toHaveLength(names.length + 6);
  });
});
