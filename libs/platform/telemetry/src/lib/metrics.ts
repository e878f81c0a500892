import { collectDefaultMetrics, Counter, Gauge, Histogram, Metric, Registry } from 'prom-client';

/** One series of a gauge read at scrape time. */
export interface Sample<L extends string = string> {
  labels: Partial<Record<L, string | number>>;
  value: number;
}

/** Reads the current values of a gauge (a database count, the consumer lag) when Prometheus scrapes. */
export type SampleSource<L extends string = string> = () => Promise<Array<Sample<L>>>;

interface MetricConfig<L extends string> {
  name: string;
  help: string;
  labelNames?: readonly L[];
}

/**
 * Longest wait for a scrape-time source: a database or a broker that does not answer must cost the scrape
 * its own series, not the whole scrape (Prometheus's own timeout is 10 s by default).
 */
const SOURCE_TIMEOUT_MS = 2_000;
/**
 * A source is read at most this often, whatever the number of scrapers: several Prometheus servers (or a
 * scrape loop gone wrong) do not multiply the queries.
 */
const SOURCE_MIN_INTERVAL_MS = 1_000;

/**
 * The service's Prometheus metrics (prom-client, the de facto Node client), one registry per application,
 * so that two applications in one process (tests, benchmarks) keep their own series.
 *
 * Metrics are created by name and memoised: every part of the service that asks for
 * `audit_outbox_published_total` gets the same counter. With METRICS_ENABLED=false nothing is exposed and
 * the metrics are left unregistered: counting into them still works, it is just never read.
 *
 * Label values must come from bounded sets (a route template, an event type of the registry, an outcome):
 * never a URL, a group path, a user or a destination id. docs/operations.md says why.
 */
export class Metrics {
  readonly registry = new Registry();
  private readonly sampled = new Map<string, SampledGauge>();

  constructor(
    readonly enabled: boolean,
    options: { defaultMetrics?: boolean } = {},
  ) {
    // Process and Node.js metrics (CPU, memory, event loop lag, GC, handles) under their standard names.
    if (enabled && options.defaultMetrics !== false) collectDefaultMetrics({ register: this.registry });
  }

  counter<L extends string = never>(config: MetricConfig<L>): Counter<L> {
    return this.memoised(config.name, () => new Counter<L>({ ...this.base(config) }));
  }

  histogram<L extends string = never>(config: MetricConfig<L> & { buckets?: number[] }): Histogram<L> {
    return this.memoised(config.name, () => new Histogram<L>({ ...this.base(config), buckets: config.buckets }));
  }

  /** A gauge set by the code (`set`, `inc`, `dec`). */
  gauge<L extends string = never>(config: MetricConfig<L>): Gauge<L> {
    return this.memoised(config.name, () => new Gauge<L>({ ...this.base(config) }));
  }

  /**
   * A gauge whose series are read from `source` at each scrape (rate-limited, bounded in time). Several
   * sources may feed one gauge (two consumer groups, each its own lag); a source that fails or is slow
   * leaves its series out of that scrape rather than failing it, and `onError` hears why.
   */
  sampledGauge<L extends string = never>(
    config: MetricConfig<L>,
    source: SampleSource<L>,
    onError: (err: Error) => void = () => undefined,
  ): void {
    let gauge = this.sampled.get(config.name);
    if (!gauge) {
      gauge = new SampledGauge(config.name, config.help);
      this.sampled.set(config.name, gauge);
      // prom-client's own Gauge prints 0 for a label-less series it has no value for: a backlog of 0 while the
      // database is down would be a lie. This one prints only what its sources read.
      if (this.enabled) this.registry.registerMetric(gauge as unknown as Metric);
    }
    gauge.sources.push(new CachedSource(source as SampleSource, onError));
  }

  /**
   * A backlog's size and its oldest item's age: two gauges from one read per scrape (`read` is typically one
   * `count(*)` and `min(created_at)` query). The age is 0 when nothing waits.
   */
  backlogGauges(
    count: MetricConfig<never>,
    age: MetricConfig<never>,
    read: () => Promise<{ count: number; ageSeconds: number | null }>,
    onError: (err: Error) => void = () => undefined,
  ): void {
    let pending: Promise<{ count: number; ageSeconds: number | null }> | null = null;
    // Both gauges of one scrape share the read; the next scrape reads again.
    const shared = () => (pending ??= read().finally(() => setImmediate(() => (pending = null))));
    this.sampledGauge(count, async () => [{ labels: {}, value: (await shared()).count }], onError);
    this.sampledGauge(age, async () => [{ labels: {}, value: (await shared()).ageSeconds ?? 0 }], onError);
  }

  /** The text exposition format of everything registered. */
  render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  private base<L extends string>(config: MetricConfig<L>) {
    return {
      name: config.name,
      help: config.help,
      labelNames: config.labelNames ?? [],
      registers: this.enabled ? [this.registry] : [],
    };
  }

  private readonly made = new Map<string, unknown>();

  private memoised<T>(name: string, make: () => T): T {
    if (!this.made.has(name)) this.made.set(name, make());
    return this.made.get(name) as T;
  }
}

/** A gauge of prom-client's registry (the shape `Registry.metrics()` reads) whose series come from its sources. */
class SampledGauge {
  readonly type = 'gauge';
  readonly aggregator = 'sum';
  readonly sources: CachedSource[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  async get(): Promise<{ name: string; help: string; type: string; aggregator: string; values: Sample[] }> {
    const all = await Promise.all(this.sources.map((s) => s.read()));
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: all.flat() };
  }
}

/** A source read at most every SOURCE_MIN_INTERVAL_MS, within SOURCE_TIMEOUT_MS, never rejecting. */
class CachedSource {
  private last: { at: number; samples: Sample[] } | null = null;
  private reading: Promise<Sample[]> | null = null;

  constructor(
    private readonly source: SampleSource,
    private readonly onError: (err: Error) => void,
  ) {}

  read(): Promise<Sample[]> {
    if (this.last && Date.now() - this.last.at < SOURCE_MIN_INTERVAL_MS) return Promise.resolve(this.last.samples);
    this.reading ??= withTimeout(this.source(), SOURCE_TIMEOUT_MS)
      .then(
        (samples) => {
          this.last = { at: Date.now(), samples };
          return samples;
        },
        (err: unknown) => {
          this.last = null;
          this.onError(err as Error);
          return [];
        },
      )
      .finally(() => (this.reading = null));
    return this.reading;
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Seconds since `startedAt` (a `performance.now()` reading), for histograms in seconds. */
export const secondsSince = (startedAt: number): number => (performance.now() - startedAt) / 1000;
