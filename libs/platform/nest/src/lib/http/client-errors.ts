import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';

/*
 * Requests Node's HTTP parser refuses before any route sees them (headers or URL over 16 KiB, a
 * malformed request line) get, by default, a bare status line without a body. Here they get the
 * same application/problem+json as every other refusal.
 */
const REFUSALS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'The request line and headers together exceed 16 KiB'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request was not received in time'],
};

/** The raw HTTP/1.1 response for a request the parser refused with `code`. */
export function clientErrorResponse(code: string | undefined): string {
  const [status, title, detail] = REFUSALS[code ?? ''] ?? [400, 'Bad Request', 'The request is not valid HTTP/1.1'];
  const body = JSON.stringify({ type: 'about:blank', title, status, detail, errors: [{ field: status === 431 ? 'headers' : 'request', message: detail }] });
  return `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A peer that went away, or a socket already answered, gets nothing more.
    if (err.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(err.code));
  });
}
