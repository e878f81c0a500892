import { createServer, Server } from 'node:http';
import { AddressInfo } from 'node:net';
import { RunningPrometheus, startPrometheus } from './prometheus';
import { waitFor } from './wait-for';

/*
 * startPrometheus against a real Prometheus: a tiny HTTP server exposes a metric in the text format, the
 * server scrapes it every second, and the value is read back through Prometheus's HTTP API.
 */
// The first scrape comes about 5 s after the start (Prometheus hands discovered targets to the scrapers in
// 5 s batches), above Jest's default timeout.
jest.setTimeout(60_000);

describe('startPrometheus', () => {
  let value = 42;
  let scrapes = 0;
  let exporter: Server;
  let target: string;
  let closedTarget: string;
  let prometheus: RunningPrometheus | undefined;

  beforeAll(async () => {
    exporter = createServer((req, res) => {
      if (req.url !== '/metrics') {
        res.statusCode = 404;
        res.end();
        return;
      }
      scrapes += 1;
      res.setHeader('Content-Type', 'text/plain; version=0.0.4; charset=utf-8');
      res.end(`# HELP demo_value A value the test sets.\n# TYPE demo_value gauge\ndemo_value{kind="test"} ${value}\n`);
    });
    await new Promise<void>((resolve) => exporter.listen(0, '127.0.0.1', resolve));
    target = `127.0.0.1:${(exporter.address() as AddressInfo).port}`;

    // A port that nothing listens on: its target must be reported down.
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    closedTarget = `127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise<void>((resolve) => closed.close(() => resolve()));

    prometheus = await startPrometheus({
      scrapeTargets: { demo: [target], gone: [closedTarget] },
      scrapeIntervalSeconds: 1,
    });
  });

  afterAll(async () => {
    await prometheus?.stop();
    await new Promise<void>((resolve) => exporter.close(() => resolve()));
  });

  it('listens on a port of its own on the loopback, not 9090', () => {
    const url = new URL(prometheus?.url ?? '');
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).not.toBe('9090');
  });

  it('scrapes the target and answers queries with its value and the job and instance labels', async () => {
    const samples = await waitFor('demo_value scraped', async () => {
      const result = await prometheus!.query('demo_value');
      return result.length > 0 && result;
    });
    expect(samples).toHaveLength(1);
    expect(samples[0].metric).toEqual({ __name__: 'demo_value', job: 'demo', instance: target, kind: 'test' });
    expect(samples[0].value[1]).toBe('42');
    expect(samples[0].value[0]).toBeGreaterThan(Date.now() / 1000 - 60);
    expect(scrapes).toBeGreaterThanOrEqual(1);
  });

  it('keeps scraping: a new value is seen within a few intervals', async () => {
    value = 43.5;
    const seen = await waitFor(
      'demo_value 43.5',
      async () => (await prometheus!.query('demo_value{job="demo"}'))[0]?.value[1] === '43.5',
      { timeoutMs: 15_000 },
    );
    expect(seen).toBe(true);
  });

  it('reports up per target: 1 for the exporter, 0 for a port nobody listens on', async () => {
    const up = await waitFor('up of both jobs', async () => {
      const result = await prometheus!.query('up');
      return result.length === 2 && result;
    });
    const byJob = Object.fromEntries(up.map((s) => [s.metric.job, { instance: s.metric.instance, up: s.value[1] }]));
    expect(byJob).toEqual({ demo: { instance: target, up: '1' }, gone: { instance: closedTarget, up: '0' } });
  });

  it('rejects a query that is not valid PromQL, naming the error', async () => {
    await expect(prometheus!.query('sum(')).rejects.toThrow(/query sum\( failed: .*parse error/);
  });

  it('stops: the server no longer answers', async () => {
    const url = prometheus!.url;
    await prometheus!.stop();
    prometheus = undefined;
    await expect(fetch(`${url}/-/ready`)).rejects.toThrow();
  });
});
