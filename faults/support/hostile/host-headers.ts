import { HostileResponse } from './http-client';

/*
 * Host headers a client chooses. Links to a service's own pages were built from the request's Host:
 * `Host: evil.example:666` came back in `Link: <http://evil.example:666/api/v4/…>; rel="next"` (a
 * client following it hands its token to that host), and `Host: a b` made the URL parser throw, a 500.
 * Now a Link is relative (`</api/v4/…>`) or on PUBLIC_URL, never on the Host.
 */
export const HOSTILE_HOSTS: Array<[string, string]> = [
  ['foreign', 'evil.example:666'],
  ['space', 'a b'],
  ['unclosed-ipv6', '[::1'],
  ['empty', ''],
  ['2000-chars', `${'h'.repeat(1988)}.evil.example`],
];

/** What no response header may contain, whatever Host was sent. */
const FOREIGN = ['evil.example', 'h'.repeat(64)];

/**
 * The answer to a valid request sent with a hostile Host: no header naming the Host, every Link relative
 * or on `publicUrl`, and, where the request lists a page of a longer list (`per_page=1` on a route that
 * pages), a 200 with a `rel="next"` Link to judge (else the check would pass on an empty list, or on a
 * refusal, and prove nothing).
 */
export const linksStayHome =
  (publicUrl: string | undefined, expectNext: boolean) =>
  (r: HostileResponse): string | undefined => {
    for (const [name, value] of Object.entries(r.headers)) {
      if (FOREIGN.some((f) => value.includes(f)))
        return `response header ${name} names the client's Host: ${value.slice(0, 200)}`;
    }
    // A valid request of a list that pages: a 200 is due (else there is no Link to judge, and the check proves nothing).
    if (expectNext && r.status !== 200) return `expected a page (200) of the list, to judge its Link, got ${r.status}`;
    const link = r.headers['link'];
    if (link === undefined) return expectNext ? 'a page of a longer list came without its Link rel="next"' : undefined;
    const targets = [...link.matchAll(/<([^>]*)>/g)].map((m) => m[1]);
    if (targets.length === 0) return `Link without a target: ${link.slice(0, 200)}`;
    const home = (target: string) => (publicUrl ? target.startsWith(`${publicUrl}/`) : /^\/api\/[^/]/.test(target));
    const away = targets.find((t) => !home(t));
    return away === undefined
      ? undefined
      : `Link target not ${publicUrl ? `on ${publicUrl}` : 'relative (/api/…)'}: ${away.slice(0, 200)}`;
  };
