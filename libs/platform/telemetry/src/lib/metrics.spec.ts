import { Metrics } from './metrics';

describe('Metrics', () => {
  it('hands out one metric per name, so every part of a service counts into the same series', async () => {
    const metrics = new Metrics(true, { defaultMetrics: false });
    const a = metrics.counter({ name: 'things_total', help: 'things', labelNames: ['kind'] });
    const b = metrics.counter({ name: 'things_total', help: 'things', labelNames: ['kind'] });
    expect(b).toBe(a);
    a.inc({ kind: 'x' });
    b.inc({ kind: 'x' }, 2);
    expect(await metrics.render()).toContain('things_total{kind="x"} 3');
  });

  it('keeps two applications of one process apart (a registry each)', async () => {
    const one = new Metrics(true, { defaultMetrics: false });
    const two = new Metrics(true, { defaultMetrics: false });
    one.counter({ name: 'things_total', help: 'things' }).inc(5);
    expect(await one.render()).toContain('things_total 5');
    expect(await two.render()).not.toContain('things_total');
  });

  it('exposes nothing when disabled, though counting into its metrics still works', async () => {
    const metrics = new Metrics(false);
    const counter = metrics.counter({ name: 'things_total', help: 'things' });
    counter.inc();
    expect((await metrics.render()).trim()).toBe('');
  });

  it('includes the process and Node.js metrics under their standard names unless told not to', async () => {
    expect(await new Metrics(true).render()).toMatch(/^process_cpu_seconds_total /m);
    expect(await new Metrics(true, { defaultMetrics: false }).render()).not.toContain('process_cpu_seconds_total');
  });

  it('reads a sampled gauge from each of its sources at scrape time', async () => {
    const metrics = new Metrics(true, { defaultMetrics: false });
    const config = { name: 'lag', help: 'lag', labelNames: ['group'] as const };
    metrics.sampledGauge(config, async () => [{ labels: { group: 'a' }, value: 4 }]);
    metrics.sampledGauge(config, async () => [{ labels: { group: 'b' }, value: 0 }]);
    const text = await metrics.render();
    expect(text).toContain('lag{group="a"} 4');
    expect(text).toContain('lag{group="b"} 0');
  });

  it('leaves a failing source out of the scrape, tells why, and keeps the other series', async () => {
    const metrics = new Metrics(true, { defaultMetrics: false });
    const errors: string[] = [];
    metrics.sampledGauge({ name: 'ok_gauge', help: 'ok' }, async () => [{ labels: {}, value: 1 }]);
    metrics.sampledGauge(
      { name: 'broken_gauge', help: 'broken' },
      async () => Promise.reject(new Error('database down')),
      (err) => errors.push(err.message),
    );
    const text = await metrics.render();
    expect(text).toContain('ok_gauge 1');
    expect(text).not.toMatch(/^broken_gauge /m);
    expect(errors).toEqual(['database down']);
  });

  it('reads a backlog once for both its gauges, and prints an empty backlog as age 0', async () => {
    const metrics = new Metrics(true, { defaultMetrics: false });
    const backlog = [
      { count: 3, ageSeconds: 12.5 },
      { count: 0, ageSeconds: null },
    ];
    let reads = 0;
    metrics.backlogGauges(
      { name: 'queue_pending', help: 'pending' },
      { name: 'queue_oldest_age_seconds', help: 'age' },
      async () => backlog[reads++],
    );
    const text = await metrics.render();
    expect(text).toContain('queue_pending 3');
    expect(text).toContain('queue_oldest_age_seconds 12.5');
    expect(reads).toBe(1);
    const other = new Metrics(true, { defaultMetrics: false });
    other.backlogGauges({ name: 'q_pending', help: 'p' }, { name: 'q_age', help: 'a' }, async () => backlog[1]);
    expect(await other.render()).toContain('q_age 0');
  });

  it('reads a source at most once a second however often it is scraped', async () => {
    const metrics = new Metrics(true, { defaultMetrics: false });
    let reads = 0;
    metrics.sampledGauge({ name: 'counted', help: 'counted' }, async () => [{ labels: {}, value: ++reads }]);
    await Promise.all([metrics.render(), metrics.render(), metrics.render()]);
    expect(await metrics.render()).toContain('counted 1');
    expect(reads).toBe(1);
  });
});
