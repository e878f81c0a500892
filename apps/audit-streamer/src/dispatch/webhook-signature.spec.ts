import { createHmac, randomBytes } from 'node:crypto';
import { signWebhook } from './webhook-signature';

describe('signWebhook', () => {
  it('matches the Standard Webhooks reference vector', () => {
    const signature = signWebhook(
      'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
      'msg_p5jXN8AQM9LWM0D4loKWxJek',
      1614265330,
      '{"test": 2432232314}',
    );
    expect(signature).toBe('v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=');
  });

  it('matches an independent HMAC over id.timestamp.body with the decoded key', () => {
    const key = randomBytes(24);
    const body = JSON.stringify({ id: 'e1', event_type: 'release_created', details: { x: 'ü' } });
    const expected = createHmac('sha256', key).update(`e1.1700000000.${body}`, 'utf8').digest('base64');
    expect(signWebhook(`whsec_${key.toString('base64')}`, 'e1', 1700000000, body)).toBe(`v1,${expected}`);
  });

  it('changes with the body and refuses secrets without the prefix', () => {
    const secret = `whsec_${randomBytes(24).toString('base64')}`;
    expect(signWebhook(secret, 'a', 1, '{}')).not.toBe(signWebhook(secret, 'a', 1, '{ }'));
    expect(() => signWebhook('nope', 'a', 1, '{}')).toThrow();
  });
});
