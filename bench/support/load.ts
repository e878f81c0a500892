/**
 * Closed-loop load at a fixed concurrency: each worker sends its next operation as soon as the
 * previous one finished, for a duration or until a total number of operations was started.
 * Closed loop on purpose: it measures the throughput the system sustains at that concurrency, and
 * latencies are those of the requests actually sent (no coordinated-omission correction intended).
 */

/** Wall-clock milliseconds with sub-millisecond resolution (monotonic within the run). */
export const wallNow = (): number => performance.timeOrigin + performance.now();

export interface LoadOptions {
  concurrency: number;
  durationMs?: number;
  requests?: number;
  /** One operation; resolves on success, throws on failure. `n` is unique across workers. */
  op: (n: number) => Promise<void>;
}

export interface LoadResult {
  latenciesMs: number[];
  errors: number;
  errorSamples: string[];
  elapsedMs: number;
  /** Successful operations per second over the whole run. */
  throughput: number;
}

export async function runLoad({ concurrency, durationMs, requests, op }: LoadOptions): Promise<LoadResult> {
  if (durationMs === undefined && requests === undefined) throw new Error('runLoad needs durationMs or requests');
  const latenciesMs: number[] = [];
  const errorSamples: string[] = [];
  let errors = 0;
  let started = 0;
  const t0 = performance.now();
  const deadline = durationMs === undefined ? Infinity : t0 + durationMs;
  const more = () => performance.now() < deadline && (requests === undefined || started < requests);

  const worker = async () => {
    while (more()) {
      const n = started++;
      const begin = process.hrtime.bigint();
      try {
        await op(n);
        latenciesMs.push(Number(process.hrtime.bigint() - begin) / 1e6);
      } catch (err) {
        errors += 1;
        if (errorSamples.length < 5) errorSamples.push((err as Error).message);
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsedMs = performance.now() - t0;
  return { latenciesMs, errors, errorSamples, elapsedMs, throughput: latenciesMs.length / (elapsedMs / 1000) };
}
