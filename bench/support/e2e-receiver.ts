/**
 * The end-to-end benchmark's webhook receiver: a keep-alive node:http server on 127.0.0.1 that
 * answers 200 at once and stamps, per action, when its audit event first arrived (the moment the
 * request reached the handler; the action is found by the body's details.correlation_id).
 */
import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Tracker } from './e2e-load';

export class E2eReceiver {
  requests = 0;
  unparsable = 0;
  url = '';
  private readonly server: Server;

  private constructor(private readonly tracker: Tracker) {
    this.server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));
    this.server.headersTimeout = 70_000;
    this.server.requestTimeout = 0;
  }

  static async start(tracker: Tracker): Promise<E2eReceiver> {
    const receiver = new E2eReceiver(tracker);
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    receiver.url = `http://127.0.0.1:${(receiver.server.address() as AddressInfo).port}/hook`;
    return receiver;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const at = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.once('end', () => {
      this.requests += 1;
      try {
        const event = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { details?: { correlation_id?: string } };
        this.tracker.delivered(event.details?.correlation_id, at);
      } catch {
        this.unparsable += 1;
      }
      res.writeHead(200, { 'content-length': '0' }).end();
    });
  }
}
