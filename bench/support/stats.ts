/** Percentiles and the Markdown report of the benchmark. Plain functions, no dependencies. */

export interface Summary {
  count: number;
  min: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentiles: every figure is a latency that some request really had. */
export function summarize(values: readonly number[]): Summary {
  if (values.length === 0) return { count: 0, min: NaN, p50: NaN, p95: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (p: number) => sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    count: sorted.length,
    min: sorted[0],
    p50: at(50),
    p95: at(95),
    p99: at(99),
    max: sorted[sorted.length - 1],
    mean: sum / sorted.length,
  };
}

export const round = (n: number, digits = 2): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

const cell = (n: number | undefined, digits = 2): string =>
  n === undefined || !Number.isFinite(n) ? '—' : round(n, digits).toString();

export interface Row {
  metric: string;
  service: number | undefined;
  baseline: number | undefined;
  digits?: number;
}

/** metric | release-service | bare pg baseline | ratio (service / baseline). */
export function markdownTable(rows: Row[]): string {
  const lines = [
    '| metric | release-service | bare pg baseline | ratio (service / baseline) |',
    '| --- | ---: | ---: | ---: |',
  ];
  for (const r of rows) {
    const ratio =
      r.service !== undefined && r.baseline !== undefined && r.baseline !== 0 ? r.service / r.baseline : undefined;
    lines.push(`| ${r.metric} | ${cell(r.service, r.digits)} | ${cell(r.baseline, r.digits)} | ${cell(ratio)} |`);
  }
  return lines.join('\n');
}

export interface Target {
  name: string;
  goal: string;
  value: number;
  pass: boolean;
}

export function targetLines(targets: Target[]): string {
  return targets.map((t) => `- ${t.pass ? 'PASS' : 'MISS'}  ${t.name}: ${cell(t.value)} (target ${t.goal})`).join('\n');
}
