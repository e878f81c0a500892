import { createHmac, randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { buildWebhook } from './webhook-request';

const event = {
  id: '9d5e6b3a-1c1f-5f3e-8f0a-0c1d2e3f4a5b',
  author_id: 1,
  entity_id: 29,
  entity_type: 'Project',
  details: {
    author_name: 'alice', target_id: 7, target_type: 'Release', target_details: 'New Release',
    custom_message: 'Created Release v0.3', ip_address: '203.0.113.7', entity_path: 'g/p', correlation_id: 'c1',
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

describe('buildWebhook', () => {
  const key = randomBytes(24);
  const build = (payload: unknown, customHeaders: Array<{ key: string; value: string }> = [], signingSecrets = [`whsec_${key.toString('base64')}`]) =>
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
    expect(headers).toMatchObject({
      'Content-Type': 'application/json',
      'X-Gitlab-Event-Streaming-Token': 'tok',
      'X-Gitlab-Audit-Event-Type': 'release_created',
      'X-Team': 'audit',
      'webhook-id': event.id,
      'webhook-timestamp': '1700000000',
    });
    const mac = createHmac('sha256', key).update(`${event.id}.1700000000.${body}`).digest('base64');
    expect(headers['webhook-signature']).toBe(`v1,${mac}`);
  });

  it('sends the payload in the order it was stored (the column is json, which keeps it)', () => {
    const reordered = Object.fromEntries(Object.entries(event).reverse());
    expect(build(reordered).body).toBe(JSON.stringify(reordered));
  });

  it('signs with every given secret (rotation grace period), space-separated, verifiable by standardwebhooks', () => {
    const previous = `whsec_${randomBytes(24).toString('base64')}`;
    const { headers, body } = build(event, [], [`whsec_${key.toString('base64')}`, previous]);
    const signatures = headers['webhook-signature'].split(' ');
    expect(signatures).toHaveLength(2);
    const mac = createHmac('sha256', key).update(`${event.id}.1700000000.${body}`).digest('base64');
    expect(signatures[0]).toBe(`v1,${mac}`);
    const wh = new Webhook(previous);
    jest.useFakeTimers({ now: 1_700_000_000_999 });
    try {
      expect(wh.verify(body, headers)).toEqual(JSON.parse(body));
    } finally {
      jest.useRealTimers();
    }
  });

  it('never lets a custom header replace a reserved one', () => {
    const { headers } = build(event, [{ key: 'content-type', value: 'text/plain' }, { key: 'Webhook-Id', value: 'x' }]);
    expect(headers['content-type']).toBeUndefined();
    expect(headers['Webhook-Id']).toBeUndefined();
  });
});
