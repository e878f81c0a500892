import type { Server, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';

/*
 * Requests Node's HTTP parser refuses before any route sees them (headers or URL over 16 KiB, a
 * malformed request line, a request not received within its timeout) get, by default, a bare status
 * line without a body. Here they get the same application/problem+json as every other refusal.
 */
const REFUSALS: Record<string, [number, string, string]> = {
  HPE_HEADER_OVERFLOW: [431, 'Request Header Fields Too Large', 'The request line and headers together exceed 16 KiB'],
  ERR_HTTP_REQUEST_TIMEOUT: [408, 'Request Timeout', 'The request was not received in time'],
};

/** The raw HTTP/1.1 response for a request the parser refused with `code`. */
export function clientErrorResponse(code: string | undefined): string {
  const [status, title, detail] = REFUSALS[code ?? ''] ?? [400, 'Bad Request', 'The request is not valid HTTP/1.1'];
  const body = JSON.stringify({
    type: 'about:blank',
    title,
    status,
    detail,
    errors: [{ field: status === 431 ? 'headers' : 'request', message: detail }],
  });
  return `HTTP/1.1 ${status} ${title}\r\nContent-Type: application/problem+json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
}

/**
 * How long a refused connection stays half-closed after its answer, for the peer to read it and close
 * its side; closing at once could reset the connection before the answer is read.
 */
export const REFUSAL_LINGER_MS = 1_000;

/**
 * Answers what the parser refused and what timed out (headers or the whole request not received in
 * time: Node reports both as ERR_HTTP_REQUEST_TIMEOUT), then closes the connection.
 */
export function answerClientErrors(server: Server): void {
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
    // A peer that went away, a socket already answered, or a response already under way (a second
    // status line would corrupt it) gets nothing more.
    if (err.code === 'ECONNRESET' || !socket.writable || responseStarted(socket)) {
      socket.destroy();
      return;
    }
    socket.end(clientErrorResponse(err.code));
    destroyAfter(socket, REFUSAL_LINGER_MS);
  });
}

/** Node's own default handler makes the same check, on the same field: there is no public one. */
function responseStarted(socket: Duplex): boolean {
  return (socket as Duplex & { _httpMessage?: ServerResponse | null })._httpMessage?.headersSent === true;
}

/** A peer that never closes its side, or keeps trickling bytes so the idle timeout never fires, must not hold the socket. */
function destroyAfter(socket: Duplex, ms: number): void {
  const timer = setTimeout(() => socket.destroy(), ms);
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}
