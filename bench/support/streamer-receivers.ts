/**
 * Local webhook receivers of the streamer benchmark: keep-alive node:http servers on 127.0.0.1 that
 * answer at once (200, or 500 when told to fail), count requests per audit event id (`webhook-id`)
 * and record when each arrived. Only `release_created` requests are the benchmark's; the streamer's
 * own configuration audit events (destination created, ...) are counted apart as `other`.
 */
import { once } from 'node:events';
import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { wallNow } from './load';

export interface IdStat {
  /** 2xx answers given for this id (more than 1: duplicates). */
  count: number;
  /** Wall-clock ms (same clock as Kafka's LogAppendTime on this machine) of the first and last arrival. */
  first: number;
  last: number;
}

export class BenchReceiver {
  /** Answer 500 to everything (the failure run). */
  fail = false;
  ok = new Map<string, IdStat>();
  failed = 0;
  other = 0;

  private readonly server: Server;
  url = '';

  private constructor(readonly name: string) {
    this.server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => this.handle(req, res));
    this.server.headersTimeout = 70_000;
    this.server.requestTimeout = 0;
  }

  static async start(name: string): Promise<BenchReceiver> {
    const receiver = new BenchReceiver(name);
    receiver.server.listen(0, '127.0.0.1');
    await once(receiver.server, 'listening');
    const { port } = receiver.server.address() as AddressInfo;
    receiver.url = `http://127.0.0.1:${port}/hook`;
    return receiver;
  }

  /** Forgets everything received (between scenarios). */
  reset(fail = false): void {
    this.fail = fail;
    this.ok = new Map();
    this.failed = 0;
    this.other = 0;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const at = wallNow();
    const id = req.headers['webhook-id'];
    const type = req.headers['x-gitlab-audit-event-type'];
    req.resume();
    req.once('end', () => {
      if (this.fail) {
        this.failed += 1;
        res.writeHead(500, { 'content-length': '0' }).end();
        return;
      }
      if (type !== 'release_created' || typeof id !== 'string') this.other += 1;
      else {
        const stat = this.ok.get(id);
        if (stat) {
          stat.count += 1;
          stat.last = at;
        } else this.ok.set(id, { count: 1, first: at, last: at });
      }
      res.writeHead(200, { 'content-length': '0' }).end();
    });
  }
}

export interface ReceiverPhase {
  name: string;
  /** Distinct ids of the phase that got a 2xx. */
  unique: number;
  /** All 2xx answers for ids of the phase (duplicates included). */
  total2xx: number;
  duplicates: number;
  missing: number;
  firstAt: number;
  lastAt: number;
  perS: number;
}

/** One receiver's figures over the ids of one phase (`appendedAt`: audit event id → Kafka append time). */
export function receiverPhase(
  r: BenchReceiver,
  appendedAt: ReadonlyMap<string, number>,
  latencies?: number[],
): ReceiverPhase {
  let unique = 0;
  let total2xx = 0;
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (const [id, appended] of appendedAt) {
    const s = r.ok.get(id);
    if (!s) continue;
    unique += 1;
    total2xx += s.count;
    if (s.first < firstAt) firstAt = s.first;
    if (s.last > lastAt) lastAt = s.last;
    latencies?.push(s.first - appended);
  }
  const seconds = (lastAt - firstAt) / 1000;
  return {
    name: r.name,
    unique,
    total2xx,
    duplicates: total2xx - unique,
    missing: appendedAt.size - unique,
    firstAt,
    lastAt,
    perS: seconds > 0 ? total2xx / seconds : NaN,
  };
}

/** Combined rate of several receivers: all their 2xx over first → last arrival among them. */
export function combinedPerS(phases: readonly ReceiverPhase[]): { total2xx: number; seconds: number; perS: number } {
  const total2xx = phases.reduce((a, p) => a + p.total2xx, 0);
  const first = Math.min(...phases.map((p) => p.firstAt));
  const last = Math.max(...phases.map((p) => p.lastAt));
  const seconds = (last - first) / 1000;
  return { total2xx, seconds, perS: seconds > 0 ? total2xx / seconds : NaN };
}

/** Every 2xx a receiver answered (the baseline's figure, whose ids are its own). */
export function receiverAll(r: BenchReceiver): ReceiverPhase {
  let total2xx = 0;
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (const s of r.ok.values()) {
    total2xx += s.count;
    if (s.first < firstAt) firstAt = s.first;
    if (s.last > lastAt) lastAt = s.last;
  }
  const seconds = (lastAt - firstAt) / 1000;
  return {
    name: r.name,
    unique: r.ok.size,
    total2xx,
    duplicates: total2xx - r.ok.size,
    missing: NaN,
    firstAt,
    lastAt,
    perS: seconds > 0 ? total2xx / seconds : NaN,
  };
}
