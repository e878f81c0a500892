import { ReceivedRequest, startReceiver } from '@audit/testing';
import { createServer, Server } from 'node:http';
import { AddressInfo, Socket } from 'node:net';
import { ownerOfPort } from './sockets';

/**
 * A stand-in SIEM whose behaviour a scenario switches at run time: `ok` answers 200, `fail` 500,
 * `hold` keeps every request open without an answer (a destination that times out, or deliveries
 * that are in flight when the streamer dies). Leaving `hold` answers the held requests that are
 * still open with 503, so nothing held counts as delivered.
 */
export type ReceiverMode = 'ok' | 'fail' | 'hold';

export interface FaultyReceiver {
  url: string;
  requests: ReceivedRequest[];
  mode: () => ReceiverMode;
  setMode: (mode: ReceiverMode) => void;
  /** Requests currently held open (mode `hold`). */
  held: () => number;
  /** Distinct audit events answered 2xx (by the body's id), and how many 2xx answers each got. */
  delivered: () => Map<string, Delivered>;
  close: () => Promise<void>;
}

export interface Delivered {
  count: number;
  eventType: string;
  correlationId: string;
}

export async function startFaultyReceiver(initial: ReceiverMode = 'ok'): Promise<FaultyReceiver> {
  let mode = initial;
  let held: Array<(status: number) => void> = [];
  const receiver = await startReceiver((): number | Promise<number> => {
    if (mode === 'ok') return 200;
    if (mode === 'fail') return 500;
    return new Promise<number>((resolve) => held.push(resolve));
  });
  const release = () => {
    for (const answer of held) answer(503);
    held = [];
  };
  return {
    url: receiver.url,
    requests: receiver.requests,
    mode: () => mode,
    setMode: (next) => {
      mode = next;
      if (next !== 'hold') release();
    },
    held: () => held.length,
    delivered: () => deliveredOf(receiver.requests),
    close: async () => {
      release();
      await receiver.close();
    },
  };
}

function deliveredOf(requests: ReceivedRequest[]): Map<string, Delivered> {
  const delivered = new Map<string, Delivered>();
  for (const r of requests) {
    if (r.answered === undefined || r.answered < 200 || r.answered > 299) continue;
    const event = JSON.parse(r.body) as { id: string; event_type: string; details: { correlation_id?: string } };
    const seen = delivered.get(event.id);
    if (seen) seen.count += 1;
    else
      delivered.set(event.id, {
        count: 1,
        eventType: event.event_type,
        correlationId: event.details.correlation_id ?? '',
      });
  }
  return delivered;
}

/** A receiver of a fleet scenario: what several streamers send it at once, and which of them sent it. */
export interface CountingReceiver extends FaultyReceiver {
  /** Requests being answered right now, from every sender together. */
  inFlight: () => number;
  /** The most requests it ever had in flight at once. */
  maxInFlight: () => number;
  /** Requests received per sending process (pid); a sender not among `senders()` at connection time is not counted. */
  sentBy: () => Map<number, number>;
}

/**
 * A receiver that holds every request `holdMs` before answering (a destination with some latency, so
 * requests overlap), counts the requests in flight at once, and tells which process sent each one: a
 * connection's client port is looked up among the sockets of the `senders` processes
 * (support/sockets.ts). Modes as for startFaultyReceiver.
 */
export async function startCountingReceiver({
  holdMs = 0,
  senders = () => [],
}: { holdMs?: number; senders?: () => readonly number[] } = {}): Promise<CountingReceiver> {
  const requests: ReceivedRequest[] = [];
  const owners = new WeakMap<Socket, number>();
  const sentBy = new Map<number, number>();
  let mode: ReceiverMode = 'ok';
  let held: Array<(status: number) => void> = [];
  let inFlight = 0;
  let maxInFlight = 0;
  const server: Server = createServer((req, res) => {
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let open = true;
    res.on('close', () => {
      if (open) inFlight -= 1;
      open = false;
    });
    const pid = ownerOf(req.socket);
    if (pid !== undefined) sentBy.set(pid, (sentBy.get(pid) ?? 0) + 1);
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
      const answer = (code: number) => {
        if (res.destroyed || res.socket?.destroyed !== false) return;
        res.statusCode = code;
        res.end();
        received.answered = code;
      };
      // The destination's latency is the receiver's behaviour under test, not a wait of the test.
      setTimeout(() => {
        if (mode === 'hold') held.push(answer);
        else answer(mode === 'ok' ? 200 : 500);
      }, holdMs);
    });
  });
  // Looked up on the connection's first request, and again on later ones until found: a sender may open a
  // connection before it is among `senders()` (a replica delivers before it reports ready).
  const ownerOf = (socket: Socket): number | undefined => {
    if (!owners.has(socket) && socket.remotePort !== undefined) {
      const pid = ownerOfPort(socket.remotePort, senders());
      if (pid !== undefined) owners.set(socket, pid);
    }
    return owners.get(socket);
  };
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const release = () => {
    for (const answer of held) answer(503);
    held = [];
  };
  return {
    url: `http://127.0.0.1:${port}/ingest`,
    requests,
    mode: () => mode,
    setMode: (next) => {
      mode = next;
      if (next !== 'hold') release();
    },
    held: () => held.length,
    delivered: () => deliveredOf(requests),
    inFlight: () => inFlight,
    maxInFlight: () => maxInFlight,
    sentBy: () => new Map(sentBy),
    close: async () => {
      release();
      await new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      });
    },
  };
}
