/**
 * Checks the Prometheus and Grafana files of deploy/ with the real promtool (a local binary, Debian package
 * `prometheus`; scripts/lib.sh's ensure_prometheus installs it): the alert rules parse and pass their unit
 * tests (alerts.test.yml), the compose scrape configuration is valid, every query of the dashboard is valid
 * PromQL, and every metric, label and label value that the alerts, their tests and the dashboard name is one
 * the services expose (docs/operations.md, "Metrics and alerts"), so that a typo fails here rather than
 * leaving a panel empty or an alert silent forever.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { parse } from 'yaml';

const ROOT = resolve(__dirname, '..');
const PROMETHEUS_DIR = join(ROOT, 'deploy', 'prometheus');
const ALERTS = join(PROMETHEUS_DIR, 'alerts.yml');
const ALERT_TESTS = join(PROMETHEUS_DIR, 'alerts.test.yml');
const CONFIG = join(PROMETHEUS_DIR, 'prometheus.yml');
const DASHBOARD = join(ROOT, 'deploy', 'grafana', 'dashboards', 'audit-pipeline.json');

const JOBS = ['release-service', 'audit-recorder', 'audit-streamer'];
const CONSUMERS = ['audit-recorder', 'audit-streamer'];

interface MetricSpec {
  type: 'counter' | 'gauge' | 'histogram';
  /** Label names, and for the labels with a closed set of values, those values. */
  labels: Record<string, readonly string[] | null>;
}

/** The platform's metrics, as the services expose them (fixed: the alerts and the dashboard rely on them). */
const PLATFORM_METRICS: Record<string, MetricSpec> = {
  http_server_request_duration_seconds: {
    type: 'histogram',
    labels: { method: null, route: null, status_code: null },
  },
  audit_outbox_pending_events: { type: 'gauge', labels: {} },
  audit_outbox_oldest_pending_age_seconds: { type: 'gauge', labels: {} },
  audit_outbox_published_total: { type: 'counter', labels: {} },
  kafka_consumer_lag: { type: 'gauge', labels: { group: null, topic: null, partition: null } },
  audit_consumer_messages_total: {
    type: 'counter',
    labels: { consumer: CONSUMERS, outcome: ['processed', 'dead_lettered'] },
  },
  audit_consumer_chunk_duration_seconds: { type: 'histogram', labels: { consumer: CONSUMERS } },
  audit_events_stored_total: { type: 'counter', labels: { event_type: null } },
  audit_stream_deliveries_total: { type: 'counter', labels: { outcome: ['delivered', 'failed', 'gave_up'] } },
  audit_stream_delivery_duration_seconds: { type: 'histogram', labels: {} },
  audit_stream_pending_deliveries: { type: 'gauge', labels: {} },
  audit_stream_oldest_pending_age_seconds: { type: 'gauge', labels: {} },
  audit_stream_destinations: { type: 'gauge', labels: { state: ['active', 'paused', 'deactivated', 'disabled'] } },
};

/** Labels Prometheus adds to every scraped series. */
const TARGET_LABELS: Record<string, readonly string[] | null> = { job: JOBS, instance: null };

/** Grafana's variables as they would be substituted at query time. */
const GRAFANA_VARIABLES: Record<string, string> = {
  __rate_interval: '5m',
  __interval: '1m',
  __range: '1h',
  job: JOBS.join('|'),
};

/**
 * Every series name a query may use, with its labels: the platform's metrics (a histogram as its _bucket,
 * _sum and _count series), prom-client's default process and Node.js metrics (read from prom-client itself,
 * so they stay the ones the services expose) and `up`.
 */
function knownSeries(): Map<string, Record<string, readonly string[] | null>> {
  const known = new Map<string, Record<string, readonly string[] | null>>();
  const add = (name: string, spec: MetricSpec) => {
    const labels = { ...spec.labels, ...TARGET_LABELS };
    if (spec.type !== 'histogram') return known.set(name, labels);
    known.set(`${name}_bucket`, { ...labels, le: null });
    known.set(`${name}_sum`, labels);
    known.set(`${name}_count`, labels);
  };
  for (const [name, spec] of Object.entries(PLATFORM_METRICS)) add(name, spec);
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  for (const metric of registry.getMetricsAsArray()) {
    // The metric objects, not their current values: a label shows up here before its first observation.
    const { name, labelNames } = metric as unknown as { name: string; labelNames: string[] };
    const type = String((metric as unknown as { type: unknown }).type) === 'histogram' ? 'histogram' : 'gauge';
    add(name, { type, labels: Object.fromEntries(labelNames.map((l) => [l, null])) });
  }
  // node-exporter: a job that is not the platform's, in alerts.test.yml to show that the alerts leave it alone.
  known.set('up', { ...TARGET_LABELS, job: [...JOBS, 'node-exporter'] });
  return known;
}

/** promtool, or a failure that says how to install it: these checks must not be skipped silently. */
function promtool(args: string[]): { status: number; output: string } {
  const run = spawnSync('promtool', args, { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
  if (run.error)
    throw new Error(
      `promtool could not be run (${run.error.message}). Install it (Debian package prometheus): ` +
        `bash -c 'source scripts/lib.sh && ensure_prometheus'`,
    );
  return { status: run.status ?? -1, output: `${run.stdout}${run.stderr}` };
}

// ---- a small PromQL reader: enough to find the selectors, the label names and the label values ----

const KEYWORDS = new Set([
  'and',
  'or',
  'unless',
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'offset',
  'bool',
  'inf',
  'nan',
  // aggregation operators may be followed by `by (...)` rather than `(`
  'sum',
  'min',
  'max',
  'avg',
  'group',
  'stddev',
  'stdvar',
  'count',
  'count_values',
  'bottomk',
  'topk',
  'quantile',
]);
const LABEL_LIST_KEYWORDS = new Set(['by', 'without', 'on', 'ignoring', 'group_left', 'group_right']);

type Token = { kind: 'ident' | 'string' | 'number' | 'punct'; text: string };

function tokenize(expr: string): Token[] {
  const tokens: Token[] = [];
  const pattern =
    /\s+|#[^\n]*|"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`]*`|\[[^\]]*\]|[a-zA-Z_:][a-zA-Z0-9_:]*|\d[\w.]*|\.\d[\w]*|=~|!~|!=|==|<=|>=|[{}()[\],=<>+\-*/%^@:]/y;
  for (let at = 0; at < expr.length;) {
    pattern.lastIndex = at;
    const match = pattern.exec(expr);
    if (!match) throw new Error(`cannot read PromQL at "${expr.slice(at, at + 20)}" in: ${expr}`);
    at = pattern.lastIndex;
    const text = match[0];
    // A range or subquery ("[5m]", "[10m:1m]") holds durations only: one token, so ":1m" is no name.
    if (/^\s|^#/.test(text)) continue;
    if (/^["'`]/.test(text)) tokens.push({ kind: 'string', text: text.slice(1, -1) });
    else if (/^[a-zA-Z_:]/.test(text)) tokens.push({ kind: 'ident', text });
    else if (/^[\d.[]/.test(text)) tokens.push({ kind: 'number', text });
    else tokens.push({ kind: 'punct', text });
  }
  return tokens;
}

interface Selector {
  name: string | undefined;
  matchers: Array<{ label: string; op: string; value: string }>;
}

/** The selectors of an expression and the label names of its by/without/on/ignoring/group_x lists. */
function readPromql(expr: string): { selectors: Selector[]; groupingLabels: string[] } {
  const tokens = tokenize(expr);
  const selectors: Selector[] = [];
  const groupingLabels: string[] = [];
  const readMatchers = (from: number): { matchers: Selector['matchers']; next: number } => {
    const matchers: Selector['matchers'] = [];
    let i = from + 1; // after '{'
    while (tokens[i] && tokens[i].text !== '}') {
      const [label, op, value] = [tokens[i], tokens[i + 1], tokens[i + 2]];
      if (label?.kind !== 'ident' || !['=', '!=', '=~', '!~'].includes(op?.text) || value?.kind !== 'string')
        throw new Error(`cannot read the label matchers of: ${expr}`);
      matchers.push({ label: label.text, op: op.text, value: value.text });
      i += 3;
      if (tokens[i]?.text === ',') i += 1;
    }
    return { matchers, next: i + 1 };
  };
  for (let i = 0; i < tokens.length;) {
    const token = tokens[i];
    const next = tokens[i + 1];
    if (token.kind === 'ident' && LABEL_LIST_KEYWORDS.has(token.text) && next?.text === '(') {
      let j = i + 2;
      for (; tokens[j] && tokens[j].text !== ')'; j += 1)
        if (tokens[j].kind === 'ident') groupingLabels.push(tokens[j].text);
      i = j + 1;
    } else if (token.kind === 'ident' && !KEYWORDS.has(token.text) && next?.text !== '(') {
      if (next?.text === '{') {
        const { matchers, next: after } = readMatchers(i + 1);
        selectors.push({ name: token.text, matchers });
        i = after;
      } else {
        selectors.push({ name: token.text, matchers: [] });
        i += 1;
      }
    } else if (token.text === '{') {
      const { matchers, next: after } = readMatchers(i);
      selectors.push({ name: matchers.find((m) => m.label === '__name__' && m.op === '=')?.value, matchers });
      i = after;
    } else {
      i += 1;
    }
  }
  return { selectors, groupingLabels };
}

/**
 * What is wrong with the names in an expression: unknown series, labels the series does not have, values
 * outside a label's closed set (for `=` and for `=~` alternatives such as "failed|gave_up"), grouping by a
 * label none of its series has. Empty when all is well.
 */
function nameProblems(expr: string, known: Map<string, Record<string, readonly string[] | null>>): string[] {
  const problems: string[] = [];
  const { selectors, groupingLabels } = readPromql(expr);
  const labelsInUse = new Set<string>(['le']);
  for (const { name, matchers } of selectors) {
    const labels = name === undefined ? undefined : known.get(name);
    if (!labels) {
      problems.push(`unknown metric ${name ?? '(no name)'}`);
      continue;
    }
    Object.keys(labels).forEach((l) => labelsInUse.add(l));
    for (const { label, op, value } of matchers) {
      if (!(label in labels)) {
        problems.push(`${name} has no label ${label}`);
        continue;
      }
      const allowed = labels[label];
      if (!allowed || value === '') continue;
      const values = op.endsWith('~') ? (/^[\w|-]+$/.test(value) ? value.split('|') : []) : [value];
      for (const v of values) if (!allowed.includes(v)) problems.push(`${name}{${label}} is never "${v}"`);
    }
  }
  for (const label of groupingLabels) if (!labelsInUse.has(label)) problems.push(`no series of it has label ${label}`);
  return problems;
}

// ---- the files under test ----

interface Dashboard {
  panels: Array<{ id: number; title: string; type: string; targets?: Array<{ refId: string; expr: string }> }>;
  templating: { list: Array<{ name: string; type: string; current?: { value?: unknown } }> };
}

const loadDashboard = (): Dashboard => JSON.parse(readFileSync(DASHBOARD, 'utf8')) as Dashboard;

function substituteGrafanaVariables(expr: string): string {
  return expr.replace(/\$\{(\w+)(?::\w+)?\}|\$(\w+)/g, (whole, braced?: string, bare?: string) => {
    const name = braced ?? bare ?? '';
    if (!(name in GRAFANA_VARIABLES)) throw new Error(`no substitute for the Grafana variable ${whole} in: ${expr}`);
    return GRAFANA_VARIABLES[name];
  });
}

/** Every query of the dashboard, Grafana's variables substituted, named after its panel and refId. */
function dashboardQueries(dashboard: Dashboard): Array<{ where: string; expr: string }> {
  return dashboard.panels.flatMap((panel) =>
    (panel.targets ?? []).map((target) => ({
      where: `panel ${panel.id} "${panel.title}" ${target.refId}`,
      expr: substituteGrafanaVariables(target.expr),
    })),
  );
}

interface AlertRulesFile {
  groups: Array<{ name: string; rules: Array<{ alert?: string; record?: string; expr: string }> }>;
}

const alertExpressions = (): Array<{ where: string; expr: string }> =>
  (parse(readFileSync(ALERTS, 'utf8')) as AlertRulesFile).groups.flatMap((group) =>
    group.rules.map((rule) => ({ where: `alert ${rule.alert ?? rule.record}`, expr: rule.expr })),
  );

const alertTestSeries = (): Array<{ where: string; expr: string }> =>
  (
    parse(readFileSync(ALERT_TESTS, 'utf8')) as {
      tests: Array<{ name: string; input_series: Array<{ series: string }> }>;
    }
  ).tests.flatMap((test) => test.input_series.map((input) => ({ where: `test "${test.name}"`, expr: input.series })));

/**
 * Validates expressions with promtool: each becomes a recording rule of a temporary rules file, which
 * `promtool check rules` parses (the same PromQL parser as the server's).
 */
function checkExpressions(queries: Array<{ where: string; expr: string }>): { status: number; output: string } {
  const dir = mkdtempSync(join(tmpdir(), 'dashboard-rules-'));
  try {
    const file = join(dir, 'dashboard.rules.yml');
    const rules = queries.map((q, i) => ({ record: `dashboard:query_${i}`, expr: q.expr }));
    // JSON is YAML: no escaping of PromQL's quotes and braces to get wrong.
    writeFileSync(file, JSON.stringify({ groups: [{ name: 'dashboard', rules }] }, null, 2));
    return promtool(['check', 'rules', file]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe('Prometheus rules, configuration and Grafana dashboard', () => {
  let known: Map<string, Record<string, readonly string[] | null>>;
  beforeAll(() => {
    known = knownSeries();
  });

  it('has promtool installed (scripts/lib.sh ensure_prometheus)', () => {
    const { status, output } = promtool(['--version']);
    expect(status).toBe(0);
    expect(output).toMatch(/^promtool, version \d+\.\d+/);
  });

  it('alerts.yml is valid', () => {
    const { status, output } = promtool(['check', 'rules', ALERTS]);
    expect(output).toContain('SUCCESS');
    expect(status).toBe(0);
  });

  it('alerts.yml passes its unit tests (promtool test rules alerts.test.yml)', () => {
    const { status, output } = promtool(['test', 'rules', ALERT_TESTS]);
    expect(output).toContain('SUCCESS');
    expect(output).not.toContain('FAILED');
    expect(status).toBe(0);
  });

  it('every alert has a duration, a severity, a summary and a description pointing to the runbook', () => {
    const rules = (parse(readFileSync(ALERTS, 'utf8')) as AlertRulesFile).groups.flatMap((g) => g.rules) as Array<{
      alert: string;
      for?: string;
      labels?: Record<string, string>;
      annotations?: Record<string, string>;
    }>;
    const tests = readFileSync(ALERT_TESTS, 'utf8');
    const operations = readFileSync(join(ROOT, 'docs', 'operations.md'), 'utf8');
    expect(rules.length).toBeGreaterThanOrEqual(8);
    for (const rule of rules) {
      expect({ alert: rule.alert, for: rule.for }).toEqual({
        alert: rule.alert,
        for: expect.stringMatching(/^\d+[smh]$/),
      });
      expect({ alert: rule.alert, severity: rule.labels?.severity }).toEqual({
        alert: rule.alert,
        severity: expect.stringMatching(/^(warning|critical)$/),
      });
      expect(rule.annotations?.summary).toBeTruthy();
      expect(rule.annotations?.description).toContain(`docs/operations.md, "Metrics and alerts" > "${rule.alert}"`);
      // The runbook has its entry, and the alert is unit tested.
      expect({ alert: rule.alert, documented: operations.includes(`#### ${rule.alert}`) }).toEqual({
        alert: rule.alert,
        documented: true,
      });
      expect({ alert: rule.alert, tested: tests.includes(`alertname: ${rule.alert}\n`) }).toEqual({
        alert: rule.alert,
        tested: true,
      });
    }
  });

  it('the compose scrape configuration is valid and its rule files load', () => {
    const { status, output } = promtool(['check', 'config', CONFIG]);
    expect(output).toContain('is valid prometheus config file syntax');
    expect(output).toMatch(/SUCCESS: \d+ rules found/);
    expect(status).toBe(0);
  });

  it('every query of the dashboard is valid PromQL', () => {
    const queries = dashboardQueries(loadDashboard());
    expect(queries.length).toBeGreaterThanOrEqual(15);
    const { status, output } = checkExpressions(queries);
    expect(output).toContain(`SUCCESS: ${queries.length} rules found`);
    expect(status).toBe(0);
  });

  it('the alerts, their tests and the dashboard name only metrics, labels and values the services expose', () => {
    const all = [...alertExpressions(), ...alertTestSeries(), ...dashboardQueries(loadDashboard())];
    const problems = all.flatMap(({ where, expr }) => nameProblems(expr, known).map((p) => `${where}: ${p}`));
    expect(problems).toEqual([]);
  });

  it('the dashboard shows every platform metric', () => {
    const used = new Set(
      dashboardQueries(loadDashboard()).flatMap(({ expr }) =>
        readPromql(expr).selectors.map((s) => (s.name ?? '').replace(/_(bucket|sum|count)$/, '')),
      ),
    );
    expect(Object.keys(PLATFORM_METRICS).filter((name) => !used.has(name))).toEqual([]);
    expect(used).toContain('up');
  });

  it('the dashboard queries the data source chosen by its variable, which defaults to the provisioned one', () => {
    const dashboard = loadDashboard();
    const variable = dashboard.templating.list.find((v) => v.type === 'datasource');
    expect(variable?.current?.value).toBe('prometheus');
    const provisioned = parse(
      readFileSync(join(ROOT, 'deploy', 'grafana', 'provisioning', 'datasources', 'prometheus.yml'), 'utf8'),
    ) as { datasources: Array<{ uid: string }> };
    expect(provisioned.datasources.map((d) => d.uid)).toEqual(['prometheus']);
    for (const panel of dashboard.panels.filter((p) => p.type !== 'row'))
      expect({ panel: panel.title, datasource: (panel as { datasource?: unknown }).datasource }).toEqual({
        panel: panel.title,
        datasource: { type: 'prometheus', uid: `\${${variable?.name ?? ''}}` },
      });
  });

  // The checks above can fail: a broken query, a misspelt metric, label or value is caught.
  it.each([
    ['a syntax error', 'sum by (job) (rate(audit_outbox_published_total[5m])', 'promtool'],
    ['a misspelt metric', 'sum(rate(audit_outbox_publish_total[5m]))', 'unknown metric audit_outbox_publish_total'],
    [
      'a label the metric lacks',
      'sum by (group) (kafka_consumer_lag{grop="x"})',
      'kafka_consumer_lag has no label grop',
    ],
    [
      'a value outside the label set',
      'rate(audit_consumer_messages_total{outcome="dead_letered"}[5m])',
      'audit_consumer_messages_total{outcome} is never "dead_letered"',
    ],
    ['grouping by a missing label', 'sum by (partiton) (kafka_consumer_lag)', 'no series of it has label partiton'],
  ])('rejects a dashboard with %s', (_label, expr, expected) => {
    const dashboard = loadDashboard();
    const panel = dashboard.panels.find((p) => (p.targets ?? []).length > 0);
    if (!panel?.targets) throw new Error('the dashboard has no query');
    panel.targets[0].expr = expr;
    const queries = dashboardQueries(dashboard);
    if (expected === 'promtool') {
      const { status, output } = checkExpressions(queries);
      expect(status).not.toBe(0);
      expect(output).toMatch(/unclosed left parenthesis|parse error/);
    } else {
      expect(queries.flatMap((q) => nameProblems(q.expr, known))).toEqual([expected]);
    }
  });
});
