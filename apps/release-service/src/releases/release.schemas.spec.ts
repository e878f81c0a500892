import { CreateGroupBody } from '../groups/namespace.schemas';
import { CreateLinkBody, CreateReleaseBody, UpdateReleaseBody } from './release.schemas';

describe('release API bodies: line breaks and control characters', () => {
  it.each([
    ['a release name', () => CreateReleaseBody.safeParse({ tag_name: 'v1', name: 'v1\r\nX-Injected: 1' })],
    ['a milestone of a release', () => UpdateReleaseBody.safeParse({ milestones: ['m1\nm2'] })],
    ['a link name', () => CreateLinkBody.safeParse({ name: 'bin\u001b[31m', url: 'https://example.com/a' })],
    [
      'a link URL (URL parsing would silently drop the CR/LF)',
      () => CreateLinkBody.safeParse({ name: 'bin', url: 'https://example.com/a\r\nb' }),
    ],
    ['a group name', () => CreateGroupBody.safeParse({ path: 'g', name: 'G\u0085' })],
    ['a description with a control character', () => UpdateReleaseBody.safeParse({ description: 'bell \u0007' })],
  ])('refuses %s', (_, parse) => {
    expect(parse().success).toBe(false);
  });

  it('keeps line breaks in descriptions, and any Unicode text in names', () => {
    expect(
      UpdateReleaseBody.safeParse({ name: 'Release 😀 \u200fשלום', description: 'line one\r\nline two\tend' }).success,
    ).toBe(true);
  });
});
