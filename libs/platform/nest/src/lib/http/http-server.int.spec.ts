import { Body, Controller, DynamicModule, Get, Module, Post, Query, Res } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Response } from 'express';
import type { Server } from 'node:http';
import { AddressInfo, connect, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { LoggerModule } from 'nestjs-pino';
import { z } from 'zod';
import { waitFor } from '@audit/testing';
import { baseConfigShape, ConfigError, LoadedConfig, loadConfig } from '../config/config';
import { pinoParams } from '../logging/logging';
import { createHttpApplication } from './bootstrap';
import { REFUSAL_LINGER_MS } from './client-errors';
import { httpServerOptions } from './http-server';

/*
 * The HTTP limits every service starts with, against real sockets: a tiny application started through
 * the services' own code path, hostile clients played with raw TCP. Each close is awaited (never slept
 * for) and must come no earlier than its timeout and well before a generous bound.
 */
jest.setTimeout(30_000);

const HEADERS_TIMEOUT_MS = 500;
const REQUEST_TIMEOUT_MS = 1_000;
const KEEP_ALIVE_TIMEOUT_MS = 500;
const IDLE_TIMEOUT_MS = 1_000; // the schema's minimum
/** Beyond its deadline, a close may wait for Node's next connection check (250 ms here) and a busy machine. */
const SLACK_MS = 2_000;

const configWith = (overrides: Record<string, string>): LoadedConfig =>
  loadConfig(z.object(baseConfigShape({ port: 3000, database: 'unused' })), { LOG_LEVEL: 'silent', ...overrides });

const tight = configWith({
  HTTP_HEADERS_TIMEOUT_MS: String(HEADERS_TIMEOUT_MS),
  HTTP_REQUEST_TIMEOUT_MS: String(REQUEST_TIMEOUT_MS),
  HTTP_KEEP_ALIVE_TIMEOUT_MS: String(KEEP_ALIVE_TIMEOUT_MS),
  HTTP_IDLE_TIMEOUT_MS: String(IDLE_TIMEOUT_MS),
});

/** When the flood response last made progress, and when its socket was closed (server side). */
const flood = { lastProgressAt: 0, closedAt: undefined as number | undefined };

@Controller('probe')
class ProbeController {
  @Get('ping')
  ping() {
    return { pong: true };
  }

  @Post('echo')
  echo(@Body() body: unknown) {
    return body;
  }

  /** Answers before reading the body (not JSON, so no parser waits for it). */
  @Post('early')
  early(@Res() res: Response) {
    res.writeHead(200, { 'Content-Type': 'text/plain' });
    res.flushHeaders();
  }

  /** A line every 50 ms for `ms`, like a long export to a client that keeps reading. */
  @Get('stream')
  stream(@Query('ms') ms: string, @Res() res: Response) {
    const until = performance.now() + Number(ms);
    res.type('text/plain');
    const timer = setInterval(() => (performance.now() < until ? res.write('line\n') : res.end('done\n')), 50);
    res.on('close', () => clearInterval(timer));
  }

  /** Writes as fast as the client reads, for ever: nothing moves once the client stops reading. */
  @Get('flood')
  flood(@Res() res: Response) {
    const chunk = Buffer.alloc(64 * 1024, 'x');
    const pump = () => {
      flood.lastProgressAt = performance.now();
      while (!res.destroyed && res.write(chunk));
    };
    res.socket?.once('close', () => (flood.closedAt = performance.now()));
    res.on('drain', pump);
    pump();
  }
}

@Module({})
class ProbeModule {}

const probeModule = (config: LoadedConfig): DynamicModule => ({
  module: ProbeModule,
  imports: [LoggerModule.forRoot(pinoParams('http-server-test', config))],
  controllers: [ProbeController],
});

interface Started {
  app: NestExpressApplication;
  server: Server;
  port: number;
}

async function startApp(config: LoadedConfig): Promise<Started> {
  const app = await createHttpApplication('http-server-test', config, probeModule(config));
  await app.listen(0, '127.0.0.1');
  const server = app.getHttpServer() as Server;
  return { app, server, port: (server.address() as AddressInfo).port };
}

interface Client {
  socket: Socket;
  received: () => string;
  /** performance.now() when the socket closed. */
  closed: Promise<number>;
  isClosed: () => boolean;
}

const clients: Socket[] = [];

/** `allowHalfOpen`: the client does not close its side when the server closes its own. */
async function open(port: number, { allowHalfOpen = false } = {}): Promise<Client> {
  const socket = connect({ port, host: '127.0.0.1', allowHalfOpen });
  clients.push(socket);
  let data = '';
  let isClosed = false;
  socket.setEncoding('latin1');
  socket.on('data', (chunk: string) => (data += chunk));
  // A refused connection may be reset rather than ended: its close is what the tests assert.
  socket.on('error', () => undefined);
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(performance.now())));
  void closed.then(() => (isClosed = true));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  return { socket, received: () => data, closed, isClosed: () => isClosed };
}

/** `promise`, or a failure naming `what` once `ms` have passed. */
async function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not happen within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, deadline]);
  } finally {
    clearTimeout(timer);
  }
}

/** Milliseconds until each close, printed for the record. */
const measured: Record<string, number> = {};

async function closedAfter(client: Client, since: number, atLeast: number, name: string): Promise<number> {
  const elapsed = (await within(client.closed, atLeast + SLACK_MS, `${name}: close`)) - since;
  measured[name] = Math.round(elapsed);
  expect(elapsed).toBeGreaterThanOrEqual(atLeast);
  return elapsed;
}

function expectProblem(raw: string, status: number): void {
  const [head, body] = raw.split('\r\n\r\n');
  expect(head).toMatch(new RegExp(`^HTTP/1\\.1 ${status} `));
  expect(head).toContain('Content-Type: application/problem+json');
  expect(head).toContain('Connection: close');
  expect(JSON.parse(body)).toMatchObject({ status });
}

const ping = 'GET /probe/ping HTTP/1.1\r\nHost: localhost\r\n\r\n';

afterEach(() => clients.splice(0).forEach((socket) => socket.destroy()));
afterAll(() => process.stdout.write(`measured close times (ms): ${JSON.stringify(measured)}\n`));

describe('HTTP server limits (real sockets)', () => {
  let started: Started;
  beforeAll(async () => {
    started = await startApp(tight);
  });
  afterAll(async () => {
    await started?.app.close();
  });

  it('creates the server with the configured timeouts, checked often enough to hold them', () => {
    expect(started.server).toMatchObject({
      headersTimeout: HEADERS_TIMEOUT_MS,
      requestTimeout: REQUEST_TIMEOUT_MS,
      keepAliveTimeout: KEEP_ALIVE_TIMEOUT_MS,
      timeout: IDLE_TIMEOUT_MS,
      maxConnections: 1024,
      connectionsCheckingInterval: HEADERS_TIMEOUT_MS / 2,
    });
  });

  it('(a) answers 408 and closes a connection that sends half a request line and stops', async () => {
    const client = await open(started.port);
    const since = performance.now();
    client.socket.write('GET /probe/pi');
    await closedAfter(client, since, HEADERS_TIMEOUT_MS, 'a: half request line');
    expectProblem(client.received(), 408);
  });

  it('(a) answers 408 and closes a connection that sends nothing at all', async () => {
    const since = performance.now();
    const client = await open(started.port);
    await closedAfter(client, since, HEADERS_TIMEOUT_MS, 'a: silent connection');
    expectProblem(client.received(), 408);
  });

  it('(b) answers 408 and closes a request whose body trickles in slower than the request timeout', async () => {
    const client = await open(started.port);
    const since = performance.now();
    client.socket.write(
      'POST /probe/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n[',
    );
    // One byte every 100 ms: the idle timeout never fires, only the request timeout can end it.
    const trickle = setInterval(() => client.socket.writable && client.socket.write(' '), 100);
    try {
      await closedAfter(client, since, REQUEST_TIMEOUT_MS, 'b: trickling body');
    } finally {
      clearInterval(trickle);
    }
    expectProblem(client.received(), 408);
  });

  it('(b) closes a timed-out connection whose client ignores the 408 and keeps trickling', async () => {
    const client = await open(started.port, { allowHalfOpen: true });
    const since = performance.now();
    client.socket.write(
      'POST /probe/echo HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n[',
    );
    // Bytes keep moving, so neither the idle timeout nor (its deadline spent) the request timeout would ever end it.
    const trickle = setInterval(() => client.socket.writable && client.socket.write(' '), 50);
    try {
      await closedAfter(client, since, REQUEST_TIMEOUT_MS + REFUSAL_LINGER_MS, 'b: trickling body, 408 ignored');
    } finally {
      clearInterval(trickle);
    }
    expectProblem(client.received(), 408);
  });

  it('(b) only closes a request that times out once its response is under way: a second status line would corrupt it', async () => {
    const client = await open(started.port);
    const since = performance.now();
    client.socket.write(
      'POST /probe/early HTTP/1.1\r\nHost: localhost\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n',
    );
    const trickle = setInterval(() => client.socket.writable && client.socket.write(' '), 100);
    try {
      await closedAfter(client, since, REQUEST_TIMEOUT_MS, 'b: trickling body, response under way');
    } finally {
      clearInterval(trickle);
    }
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 OK\r\n[^]*\r\n\r\n$/);
    expect(client.received()).not.toContain('408');
  });

  it('(c) closes an idle keep-alive connection after the keep-alive timeout, silently', async () => {
    const client = await open(started.port);
    client.socket.write(ping);
    await waitFor('the first response', () => client.received().endsWith('{"pong":true}'), {
      timeoutMs: 5_000,
      intervalMs: 5,
    });
    const since = performance.now();
    const answered = client.received();
    expect(answered).toMatch(/^HTTP\/1\.1 200 /);
    expect(answered).toMatch(/\r\nConnection: keep-alive\r\n/i);
    // Node waits one second beyond the keep-alive timeout it advertises, so that it is never the one to race a client's reuse.
    await closedAfter(client, since, KEEP_ALIVE_TIMEOUT_MS, 'c: idle keep-alive');
    expect(client.received()).toBe(answered);
  });

  it('(e) streams a response for longer than the request and idle timeouts to a client that reads', async () => {
    const streamMs = 2_500;
    const client = await open(started.port);
    const since = performance.now();
    client.socket.write(`GET /probe/stream?ms=${streamMs} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n`);
    const elapsed = (await within(client.closed, streamMs + SLACK_MS, 'e: end of the stream')) - since;
    measured['e: streamed response'] = Math.round(elapsed);
    expect(elapsed).toBeGreaterThanOrEqual(streamMs);
    expect(client.received()).toMatch(/^HTTP\/1\.1 200 /);
    expect(client.received()).toMatch(/line\n\r\n5\r\ndone\n\r\n0\r\n\r\n$/);
    expect(client.received().match(/line\n/g)?.length).toBeGreaterThan(30);
  });

  it('(f) closes a connection on which nothing moves: a client that stopped reading a long response', async () => {
    flood.closedAt = undefined;
    const client = await open(started.port);
    client.socket.write('GET /probe/flood HTTP/1.1\r\nHost: localhost\r\n\r\n');
    client.socket.pause();
    const closedAt = await waitFor('the server to close the stalled response', () => flood.closedAt, {
      timeoutMs: 10_000,
      intervalMs: 10,
    });
    const stalledFor = closedAt - flood.lastProgressAt;
    measured['f: stalled response (since last progress)'] = Math.round(stalledFor);
    // Node's socket timers run on the event loop's clock, cached when the loop woke: a few ms behind performance.now().
    expect(stalledFor).toBeGreaterThanOrEqual(IDLE_TIMEOUT_MS - 25);
    // A socket with a write pending lets its first expiry pass when the write queue changed since the
    // write was dispatched (net.Socket#_onTimeout), so a stalled response is closed within twice the timeout.
    expect(stalledFor).toBeLessThan(2 * IDLE_TIMEOUT_MS + SLACK_MS);
  });
});

describe('HTTP_MAX_CONNECTIONS (real sockets)', () => {
  const max = 8;
  let started: Started;
  beforeAll(async () => {
    // Timeouts left long so that the first connections stay open however slow the machine.
    started = await startApp(configWith({ HTTP_MAX_CONNECTIONS: String(max) }));
  });
  afterAll(async () => {
    await started?.app.close();
  });

  const connections = () =>
    new Promise<number>((resolve, reject) =>
      started.server.getConnections((err, n) => (err ? reject(err) : resolve(n))),
    );

  it('(d) closes connection N+1 at once while the first N stay open and usable', async () => {
    const first = await Promise.all(Array.from({ length: max }, () => open(started.port)));
    await waitFor(`the server to hold ${max} connections`, async () => (await connections()) === max, {
      timeoutMs: 5_000,
      intervalMs: 5,
    });

    const since = performance.now();
    const extra = await open(started.port);
    const elapsed = (await within(extra.closed, 1_000, 'd: close of the connection beyond the limit')) - since;
    measured['d: connection N+1'] = Math.round(elapsed);
    expect(extra.received()).toBe('');
    expect(first.filter((c) => c.isClosed())).toHaveLength(0);

    for (const client of first) client.socket.write(ping);
    await waitFor(
      'an answer on each of the first connections',
      () => first.every((c) => c.received().endsWith('{"pong":true}')),
      { timeoutMs: 5_000, intervalMs: 5 },
    );
    expect(first.map((c) => c.received().slice(0, 15))).toEqual(Array(max).fill('HTTP/1.1 200 OK'));
  });
});

describe('httpServerOptions', () => {
  const limits = (headers: number, request: number) => ({
    ...tight,
    HTTP_HEADERS_TIMEOUT_MS: headers,
    HTTP_REQUEST_TIMEOUT_MS: request,
  });

  it('checks deadlines every second at most, and at least twice per shortest timeout', () => {
    expect(httpServerOptions(limits(10_000, 30_000)).connectionsCheckingInterval).toBe(1_000);
    expect(httpServerOptions(limits(300, 30_000)).connectionsCheckingInterval).toBe(150);
  });

  it('refuses headers that may take longer than the whole request, naming the variable', () => {
    expect(() => httpServerOptions(limits(20_000, 10_000))).toThrow(ConfigError);
    expect(() => httpServerOptions(limits(20_000, 10_000))).toThrow(/HTTP_HEADERS_TIMEOUT_MS/);
  });
});
