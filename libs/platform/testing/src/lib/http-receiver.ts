import { createServer, IncomingHttpHeaders, Server } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The status the receiver answered with; unset while the answer is pending or if the client left first. */
  answered?: number;
  /** The client closed the connection before an answer came (it gave up: a timeout). */
  abandoned?: boolean;
}

/**
 * A real HTTP server on 127.0.0.1 that records every request (a stand-in SIEM endpoint). `status`
 * may answer later (a promise), to play a slow or hanging destination; a request whose client gave
 * up before the answer keeps `answered` unset.
 */
export async function startReceiver(
  status: (req: ReceivedRequest) => number | Promise<number> = () => 200,
): Promise<{ url: string; requests: ReceivedRequest[]; close: () => Promise<void> }> {
  const requests: ReceivedRequest[] = [];
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const received: ReceivedRequest = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(received);
      res.on('close', () => {
        if (received.answered === undefined) received.abandoned = true;
      });
      void Promise.resolve(status(received)).then((code) => {
        if (res.destroyed || res.socket?.destroyed !== false) return;
        res.statusCode = code;
        res.end();
        received.answered = code;
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
