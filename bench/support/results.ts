/**
 * The machine-readable result every benchmark writes to bench/results/<name>.json: its detailed
 * figures as before, plus `figures`, one flat row per headline figure (value, bare baseline from
 * the same run, ratio, target, pass) that bench/report.ts merges into bench/results.json and .md.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { log } from './run';
import { round } from './stats';

export const RESULTS_DIR = join(__dirname, '..', 'results');

/** A goal such as '>= 500', '< 50', '= 0' (trailing words are a comment: '< 100 (flat)'). */
export interface Goal {
  /** What the goal judges: the figure itself (default) or figure / baseline. */
  on?: 'value' | 'ratio';
  goal: string;
}

export interface FigureInput {
  name: string;
  value: number | undefined;
  /** The same figure of the bare baseline, measured in the same run. */
  baseline?: number;
  goals?: Goal[];
  /** Overrides the pass computed from `goals` (a goal a number cannot say, e.g. "every event stored"). */
  pass?: boolean;
}

export interface Figure {
  name: string;
  value: number | null;
  baseline: number | null;
  /** value / baseline. */
  ratio: number | null;
  target: string | null;
  /** null: no target. */
  pass: boolean | null;
}

const finite = (n: number | undefined): number | null => (n === undefined || !Number.isFinite(n) ? null : round(n, 3));

/** Whether `value` meets `goal`; a missing value never does. */
export function meets(value: number | null, goal: string): boolean {
  const m = /^\s*(>=|<=|>|<|=)\s*(-?[\d.]+)/.exec(goal);
  if (!m) throw new Error(`unparseable goal: ${goal}`);
  if (value === null) return false;
  const limit = Number(m[2]);
  return { '>=': value >= limit, '<=': value <= limit, '>': value > limit, '<': value < limit, '=': value === limit }[
    m[1] as '>=' | '<=' | '>' | '<' | '='
  ];
}

export function figure(input: FigureInput): Figure {
  const value = finite(input.value);
  const baseline = finite(input.baseline);
  const ratio = value !== null && baseline !== null && baseline !== 0 ? round(value / baseline, 3) : null;
  const goals = input.goals ?? [];
  const computed = goals.length === 0 ? null : goals.every((g) => meets(g.on === 'ratio' ? ratio : value, g.goal));
  const target =
    goals.length === 0 ? null : goals.map((g) => (g.on === 'ratio' ? `ratio ${g.goal}` : g.goal)).join(' and ');
  return { name: input.name, value, baseline, ratio, target, pass: input.pass ?? computed };
}

/**
 * Writes bench/results/<name>.json: `details` (the bench's own structure) with `bench` and
 * `figures` added. Returns the figures, so the caller can print them.
 */
export function writeResults(name: string, details: Record<string, unknown>, inputs: FigureInput[]): Figure[] {
  const figures = inputs.map(figure);
  mkdirSync(RESULTS_DIR, { recursive: true });
  const file = join(RESULTS_DIR, `${name}.json`);
  writeFileSync(file, `${JSON.stringify({ bench: name, ...details, figures }, null, 2)}\n`);
  log(`figures written to ${join('bench', 'results', `${name}.json`)}`);
  return figures;
}

const cell = (n: number | null): string => (n === null ? '—' : String(n));
const verdict = (pass: boolean | null): string => (pass === null ? '' : pass ? 'PASS' : 'FAIL');

/** | figure | value | baseline | ratio | target | pass | — the rows of one benchmark. */
export function figuresTable(figures: Figure[], benchName?: string): string {
  const head = benchName === undefined ? '' : 'benchmark | ';
  const lines = [
    `| ${head}figure | value | baseline | ratio | target | pass |`,
    `| ${benchName === undefined ? '' : '--- | '}--- | ---: | ---: | ---: | --- | --- |`,
  ];
  for (const f of figures) {
    lines.push(
      `| ${benchName === undefined ? '' : `${benchName} | `}${f.name} | ${cell(f.value)} | ${cell(f.baseline)} | ${cell(f.ratio)} | ${f.target ?? ''} | ${verdict(f.pass)} |`,
    );
  }
  return lines.join('\n');
}
