import { reservedHeaderProblem } from './header-rules';

describe('reservedHeaderProblem', () => {
  it.each(['Content-Type', 'content-type', 'X-Gitlab-Event-Streaming-Token', 'x-gitlab-audit-event-type', 'webhook-id', 'Webhook-Anything', 'Host'])(
    'refuses %s',
    (key) => {
      expect(reservedHeaderProblem(key)).not.toBeNull();
    },
  );

  it.each(['X-Team', 'Authorization', 'X-Webhook-Id'])('accepts %s', (key) => {
    expect(reservedHeaderProblem(key)).toBeNull();
  });
});
