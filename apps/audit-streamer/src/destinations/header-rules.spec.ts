import { isReservedHeader, reservedHeaderProblem } from './header-rules';

describe('reservedHeaderProblem', () => {
  it.each([
    'Content-Type',
    'content-type',
    'X-Gitlab-Event-Streaming-Token',
    'x-gitlab-audit-event-type',
    'X-Gitlab-Something',
    'x-gitlab-something',
    'X-GITLAB-ANYTHING',
    'webhook-id',
    'Webhook-Anything',
  ])('refuses the platform header %s', (key) => {
    expect(reservedHeaderProblem(key)).toBe('is set by the streamer and cannot be overridden');
  });

  it.each(['Host', 'content-length', 'Transfer-Encoding'])('refuses the transport header %s', (key) => {
    expect(reservedHeaderProblem(key)).toBe('is a transport header and cannot be set');
  });

  it.each([
    'X-Team',
    'Authorization',
    'X-Webhook-Id',
    'X-Gitlab',
    'X-Gitlabs-Thing',
    '__proto__',
    'constructor',
    'prototype',
    'hasOwnProperty',
    'toString',
  ])('accepts %s', (key) => {
    expect(reservedHeaderProblem(key)).toBeNull();
  });
});

describe('isReservedHeader', () => {
  it.each([
    'Content-Type',
    'CONTENT-TYPE',
    'X-Gitlab-Something',
    'x-gitlab-',
    'X-GITLAB-EVENT-STREAMING-TOKEN',
    'webhook-id',
    'Webhook-Future',
  ])('reserves %s', (name) => {
    expect(isReservedHeader(name)).toBe(true);
  });

  it.each([
    'X-Team',
    'X-Gitlab',
    'X-Gitlabs-Thing',
    'X-Webhook-Id',
    'Content-Type-Options',
    '__proto__',
    'constructor',
  ])('leaves %s to destinations', (name) => {
    expect(isReservedHeader(name)).toBe(false);
  });
});
