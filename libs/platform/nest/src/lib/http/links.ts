import type { Request, Response } from 'express';

/** The Express setting that holds PUBLIC_URL (set at boot by `runService`). */
export const PUBLIC_URL_SETTING = 'audit:public-url';

/**
 * The request's own URL with some query parameters replaced, for `Link: <…>; rel="next"`. Never built
 * from the Host header: the client controls it (`Host: evil.example` was reflected into the link,
 * `Host: a b` made the URL parser throw a 500). With PUBLIC_URL the link is absolute on it; without,
 * it is a path-absolute reference, which RFC 8288 resolves against the request's own URL.
 */
export function ownUrlWith(
  req: Pick<Request, 'originalUrl'>,
  params: Record<string, string>,
  publicUrl?: string | null,
): string {
  // Parsed against a fixed origin, so nothing of the request can choose the host; a path that starts
  // with `//` would otherwise be a network-path reference to another host.
  const url = new URL(req.originalUrl, 'http://origin.invalid');
  for (const [name, value] of Object.entries(params)) url.searchParams.set(name, value);
  const path = `/${url.pathname.replace(/^\/+/, '')}${url.search}`;
  return publicUrl ? `${publicUrl}${path}` : path;
}

/** Sets `Link: <…>; rel="next"` to this request's URL with `params` replaced. */
export function linkNext(req: Request, res: Response, params: Record<string, string>): void {
  const publicUrl = req.app?.get(PUBLIC_URL_SETTING) as string | null | undefined;
  res.setHeader('Link', `<${ownUrlWith(req, params, publicUrl)}>; rel="next"`);
}
