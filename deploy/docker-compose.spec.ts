/**
 * Checks docker-compose.yml without a Docker engine: against the Compose Specification JSON schema (the
 * upstream compose-spec schema that the `dclint` package ships) and against what the platform needs
 * (docs/contracts.md, "Processes and defaults"), including that each service's own configuration loader accepts
 * its environment (with the secrets compose mounts), that each service's Dockerfile starts its build, and that
 * the observability profile's Prometheus and Grafana find their configuration and each other.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import Ajv, { type ErrorObject, type ValidateFunction } from 'ajv';
import { parse } from 'yaml';
import { loadAuditRecorderConfig } from '../apps/audit-recorder/src/config';
import { loadAuditStreamerConfig } from '../apps/audit-streamer/src/config';
import { loadReleaseServiceConfig } from '../apps/release-service/src/config';

const ROOT = resolve(__dirname, '..');
const SERVICES = { 'release-service': 3001, 'audit-recorder': 3002, 'audit-streamer': 3003 } as const;
type ServiceName = keyof typeof SERVICES;
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
const COMMON_ENV = [
  'PORT',
  'DATABASE_URL',
  'DATABASE_MIGRATION_URL',
  'KAFKA_BROKERS',
  'KAFKA_TOPIC',
  'KAFKA_TOPIC_PARTITIONS',
  'AUTH_JWT_SECRET',
  'LOG_LEVEL',
];
const EXTRA_ENV: Record<ServiceName, string[]> = {
  'release-service': [],
  'audit-recorder': ['AUDIT_LOG_FILE', 'AUDIT_SIGNING_KEY_FILE', 'AUDIT_RETENTION_DAYS', 'AUDIT_LEGAL_HOLD'],
  'audit-streamer': ['ENCRYPTION_KEY', 'STREAMING_ALLOW_HTTP', 'STREAMING_ALLOWED_HOSTS'],
};

type EnvValue = string | number | boolean | null;
interface ComposeService {
  image?: string;
  profiles?: string[];
  command?: string | string[];
  build?: string | { context?: string; dockerfile?: string };
  environment?: Record<string, EnvValue> | string[];
  depends_on?: string[] | Record<string, { condition: string }>;
  ports?: Array<string | { target: number; published?: string | number }>;
  volumes?: Array<string | { source?: string; target: string }>;
  secrets?: Array<string | { source: string; target?: string }>;
  healthcheck?: { test?: string | string[] };
  deploy?: { replicas?: number };
  container_name?: string;
}
interface ComposeFile {
  version?: unknown;
  services: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
  secrets?: Record<string, { file?: string; environment?: string }>;
}

const OBSERVABILITY = ['prometheus', 'grafana'] as const;

/** Bind mounts (`./host:/container[:ro]`) of a service, host paths resolved against the repository. */
function bindMounts(service: ComposeService): Array<{ host: string; container: string }> {
  return (service.volumes ?? [])
    .filter((v): v is string => typeof v === 'string' && /^[./~]/.test(v))
    .map((v) => {
      const [host, container] = v.split(':');
      return { host: resolve(ROOT, host), container };
    });
}

/** Where a path inside a service's container is on the host, through its bind mounts (undefined if not mounted). */
function hostPathOf(service: ComposeService, containerPath: string): string | undefined {
  const mount = bindMounts(service)
    .filter((m) => containerPath === m.container || containerPath.startsWith(`${m.container}/`))
    .sort((a, b) => b.container.length - a.container.length)[0];
  return mount && join(mount.host, containerPath.slice(mount.container.length));
}

const readYaml = <T>(file: string): T => parse(readFileSync(file, 'utf8')) as T;

/** In the compose file, or as a HEALTHCHECK of the Dockerfile the service is built from. */
function hasHealthcheck(name: string): boolean {
  const service = loadCompose().services[name];
  if (service.healthcheck?.test) return true;
  const build = typeof service.build === 'string' ? { context: service.build } : service.build;
  if (!build) return false;
  const dockerfile = resolve(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
  return dockerInstructions(dockerfile).some((i) => i.keyword === 'HEALTHCHECK' && !/^NONE\b/i.test(i.args));
}

/** The gateway's server blocks (deploy/gateway/nginx.conf): the port each listens on and where it proxies. */
function gatewayRoutes(): Array<{ listen: number; upstream: string }> {
  const conf = readFileSync(join(ROOT, 'deploy', 'gateway', 'nginx.conf'), 'utf8').replace(/#.*$/gm, '');
  return [...conf.matchAll(/server\s*\{([\s\S]*?)\n\}/g)].map(([, block]) => {
    const variables = Object.fromEntries([...block.matchAll(/set\s+\$(\w+)\s+([^;\s]+);/g)].map(([, k, v]) => [k, v]));
    const target = /proxy_pass\s+http:\/\/([^;\s]+);/.exec(block)?.[1] ?? '';
    return {
      listen: Number(/listen\s+(\d+);/.exec(block)?.[1]),
      upstream: target.replace(/^\$(\w+)$/, (_, k: string) => variables[k] ?? target),
    };
  });
}

const loadCompose = (): ComposeFile =>
  parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as ComposeFile;

function loadComposeSchema(): Record<string, unknown> {
  // dclint's package.json "exports" hides schemas/, so locate the file through its package.json.
  const file = join(dirname(require.resolve('dclint/package.json')), 'schemas', 'compose.schema.json');
  const schema = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown>;
  if (!/draft-07/.test(String(schema.$schema)))
    throw new Error(`expected a draft-07 schema in ${file}, got ${String(schema.$schema)}`);
  // Ajv's default class is draft-07 but knows its meta-schema only as http://json-schema.org/draft-07/schema#,
  // not the https spelling the compose-spec uses.
  delete schema.$schema;
  return schema;
}

function compileComposeValidator(): ValidateFunction {
  // Strict, except strictTypes: the upstream schema uses object keywords in branches without "type".
  const ajv = new Ajv({ allErrors: true, strict: true, strictTypes: false, allowUnionTypes: true });
  return ajv.compile(loadComposeSchema());
}

const describeErrors = (errors: ErrorObject[] | null | undefined): string =>
  (errors ?? []).map((e) => `${e.instancePath || '/'} ${e.message ?? ''} ${JSON.stringify(e.params)}`).join('\n');

function environmentOf(service: ComposeService): Record<string, string> {
  const env = service.environment ?? {};
  const entries = Array.isArray(env)
    ? env.map((line): [string, string] => [line.split('=')[0], line.slice(line.indexOf('=') + 1)])
    : Object.entries(env).map(([key, value]): [string, string] => [key, value === null ? '' : String(value)]);
  return Object.fromEntries(entries);
}

/** The secrets a service mounts and where: short syntax and relative targets land under /run/secrets. */
const secretMounts = (service: ComposeService): Array<{ source: string; path: string }> =>
  (service.secrets ?? []).map((secret) => {
    const { source, target = source } = typeof secret === 'string' ? { source: secret } : secret;
    return { source, path: target.startsWith('/') ? target : `/run/secrets/${target}` };
  });

/** Valid values for the variables compose requires (`${VAR:?message}`); any other stands in as a password. */
const REQUIRED_STAND_INS: Record<string, string> = {
  AUTH_JWT_SECRET: 'compose-spec-stand-in-secret-0123456789abcdef',
  ENCRYPTION_KEY: '00'.repeat(32),
};

/** A value as compose interpolates it from an empty shell: defaults taken, required variables stood in for. */
const interpolate = (value: string): string =>
  value.replace(/\$\{(\w+)(?::?([-?])([^}]*))?\}/g, (_, name: string, kind?: string, rest?: string) =>
    kind === '-' ? (rest ?? '') : kind === '?' ? (REQUIRED_STAND_INS[name] ?? 'stand-in-password') : '',
  );

const LOADERS: Record<ServiceName, (env: NodeJS.ProcessEnv) => Record<string, unknown>> = {
  'release-service': loadReleaseServiceConfig,
  'audit-recorder': loadAuditRecorderConfig,
  'audit-streamer': loadAuditStreamerConfig,
};

const dependenciesOf = (service: ComposeService): Record<string, string> =>
  Array.isArray(service.depends_on)
    ? Object.fromEntries(service.depends_on.map((name) => [name, 'service_started']))
    : Object.fromEntries(Object.entries(service.depends_on ?? {}).map(([name, dep]) => [name, dep.condition]));

/** The instructions of a Dockerfile, continuation lines joined, comments dropped. */
function dockerInstructions(file: string): Array<{ keyword: string; args: string }> {
  const joined = readFileSync(file, 'utf8')
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n')
    .replace(/\\\n/g, ' ');
  return joined
    .split('\n')
    .map((line) => line.trim())
    .filter(Boolean)
    .map((line) => {
      const [keyword, ...rest] = line.split(/\s+/);
      return { keyword: keyword.toUpperCase(), args: rest.join(' ') };
    });
}

describe('docker-compose.yml', () => {
  const compose = loadCompose();
  const validate = compileComposeValidator();

  // Files in place of the secrets compose mounts (the operator's), written before the tests and removed after.
  const secretFiles: Record<string, string> = {};
  let secretDir = '';
  beforeAll(() => {
    secretDir = mkdtempSync(join(tmpdir(), 'compose-spec-'));
    secretFiles['audit_signing_key'] = join(secretDir, 'audit-signing-key.pem');
    const key = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
    writeFileSync(secretFiles['audit_signing_key'], key, { mode: 0o600 });
  });
  afterAll(() => rmSync(secretDir, { recursive: true, force: true }));

  /** The service's environment as its process sees it: interpolated, mounted secrets' paths on the stand-in files. */
  function processEnvOf(service: ComposeService): Record<string, string> {
    return Object.fromEntries(
      Object.entries(environmentOf(service)).map(([key, value]) => {
        const secret = secretMounts(service).find((mount) => mount.path === value);
        return [
          key,
          secret ? (secretFiles[secret.source] ?? `no stand-in for secret ${secret.source}`) : interpolate(value),
        ];
      }),
    );
  }

  it('is valid against the Compose Specification schema', () => {
    const valid = validate(compose);
    expect(describeErrors(validate.errors)).toBe('');
    expect(valid).toBe(true);
  });

  it.each([
    [
      'an unknown service key',
      (c: ComposeFile) => Object.assign(c.services['release-service'], { restart_policy: 'always' }),
    ],
    [
      'an unknown depends_on condition',
      (c: ComposeFile) =>
        Object.assign(c.services['audit-recorder'], { depends_on: { kafka: { condition: 'service_ready' } } }),
    ],
    [
      'a nested environment value',
      (c: ComposeFile) => Object.assign(c.services.postgres, { environment: { POSTGRES_DB: { name: 'postgres' } } }),
    ],
    ['an unknown top-level key', (c: ComposeFile) => Object.assign(c, { service: {} })],
  ])('rejects a copy with %s (so this check can fail)', (_label, breakIt) => {
    const broken = structuredClone(compose);
    breakIt(broken);
    expect(validate(broken)).toBe(false);
  });

  it('has no obsolete top-level version key', () => {
    expect(compose.version).toBeUndefined();
  });

  it('only depends on services that exist, and waits on health only where a healthcheck is defined', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, condition] of Object.entries(dependenciesOf(service))) {
        expect({ name, dependency, exists: dependency in compose.services }).toEqual({
          name,
          dependency,
          exists: true,
        });
        if (condition === 'service_healthy')
          expect({ dependency, healthcheck: hasHealthcheck(dependency) }).toEqual({ dependency, healthcheck: true });
      }
    }
  });

  it('declares every named volume a service mounts', () => {
    for (const service of Object.values(compose.services)) {
      for (const volume of service.volumes ?? []) {
        const source = typeof volume === 'string' ? volume.split(':')[0] : volume.source;
        if (source && !/^[./~]/.test(source)) expect(Object.keys(compose.volumes ?? {})).toContain(source);
      }
    }
  });

  it('runs Kafka from the official apache/kafka image as a single KRaft node without topic auto-creation', () => {
    const kafka = compose.services.kafka;
    expect(kafka.image).toMatch(/^apache\/kafka:\d+\.\d+\.\d+$/);
    const env = environmentOf(kafka);
    expect(env.KAFKA_PROCESS_ROLES).toBe('broker,controller');
    expect(env.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
    expect(env.KAFKA_GROUP_INITIAL_REBALANCE_DELAY_MS).toBe('0');
    expect(kafka.healthcheck?.test).toEqual(
      expect.arrayContaining([expect.stringContaining('kafka-broker-api-versions.sh')]),
    );
  });

  it('runs the gateway from the official nginx image with its configuration mounted, resolving replicas at run time', () => {
    const gateway = compose.services.gateway;
    expect(gateway.image).toMatch(/^nginx:\d+\.\d+/);
    expect(gateway.volumes).toContain('./deploy/gateway/nginx.conf:/etc/nginx/conf.d/default.conf:ro');
    const conf = readFileSync(join(ROOT, 'deploy', 'gateway', 'nginx.conf'), 'utf8');
    // Docker's DNS; a name in a variable is resolved per request, so replaced or added replicas are found.
    expect(conf).toMatch(/^resolver 127\.0\.0\.11 valid=\d+s/m);
    expect(gatewayRoutes()).toHaveLength(SERVICE_NAMES.length);
    for (const route of gatewayRoutes()) expect(route.upstream).not.toContain('$');
  });

  it("keeps the replicas' /metrics off the gateway (Prometheus scrapes each replica on the compose network)", () => {
    const conf = readFileSync(join(ROOT, 'deploy', 'gateway', 'nginx.conf'), 'utf8').replace(/#.*$/gm, '');
    const servers = [...conf.matchAll(/server\s*\{([\s\S]*?)\n\}/g)].map(([, block]) => block);
    expect(servers).toHaveLength(SERVICE_NAMES.length);
    for (const block of servers) expect(block).toMatch(/location = \/metrics \{\s*return 404;\s*\}/);
  });

  it('runs PostgreSQL 16 with a pg_isready healthcheck', () => {
    expect(compose.services.postgres.image).toMatch(/^postgres:16/);
    expect(JSON.stringify(compose.services.postgres.healthcheck?.test)).toContain('pg_isready');
  });

  describe.each(SERVICE_NAMES)('%s', (name) => {
    const service = compose.services[name];
    const port = SERVICES[name];

    it('has the environment the service reads, with secrets that must be provided', () => {
      const env = environmentOf(service);
      expect(Object.keys(env)).toEqual(expect.arrayContaining([...COMMON_ENV, ...EXTRA_ENV[name]]));
      expect(env.PORT).toBe(String(port));
      expect(env.AUTH_JWT_SECRET).toMatch(/^\$\{AUTH_JWT_SECRET:\?.+\}$/);
      if (name === 'audit-streamer') expect(env.ENCRYPTION_KEY).toMatch(/^\$\{ENCRYPTION_KEY:\?.+\}$/);
      // Production refuses to start without it: the recorder's key is a secret the operator must provide.
      if (name === 'audit-recorder') {
        expect(secretMounts(service)).toContainEqual({ source: 'audit_signing_key', path: env.AUDIT_SIGNING_KEY_FILE });
        expect(compose.secrets?.['audit_signing_key']?.file).toMatch(/^\$\{AUDIT_SIGNING_KEY_FILE:\?.+\}$/);
      }
    });

    it("is accepted by the service's own loader, given what compose requires and the secrets it mounts", () => {
      const config = LOADERS[name](processEnvOf(service));
      expect(config).toMatchObject({ NODE_ENV: 'production', PORT: port, usingDevelopmentSecret: false });
      if (name === 'audit-recorder')
        expect(config).toMatchObject({
          usingDevelopmentSigningKey: false,
          AUDIT_RETENTION_DAYS: 2555,
          AUDIT_LEGAL_HOLD: false,
        });
    });

    it('reaches Kafka on a listener the broker advertises and PostgreSQL through the postgres service', () => {
      const env = environmentOf(service);
      const advertised = environmentOf(compose.services.kafka).KAFKA_ADVERTISED_LISTENERS ?? '';
      for (const broker of env.KAFKA_BROKERS.split(',')) expect(advertised).toContain(`//${broker}`);
      expect(new URL(env.DATABASE_URL.replace(/\$\{[^}]*\}/g, 'x')).hostname).toBe('postgres');
      expect(Object.keys(dependenciesOf(service)).sort()).toEqual(['db-setup', 'kafka', 'postgres']);
      expect(dependenciesOf(service)['db-setup']).toBe('service_completed_successfully');
    });

    it('runs as its own least-privileged role, and migrates as the owner role db-setup created, with passwords that must be provided', () => {
      const env = environmentOf(service);
      const setup = environmentOf(compose.services['db-setup']);
      const prefix = name.toUpperCase().replace('-', '_');
      const role = name.replace('-', '_');
      expect(env.DATABASE_URL).toBe(setup[`${prefix}_DATABASE_URL`]);
      expect(env.DATABASE_MIGRATION_URL).toBe(setup[`${prefix}_DATABASE_MIGRATION_URL`]);
      expect(new URL(env.DATABASE_URL.replace(/\$\{[^}]*\}/g, 'x')).username).toBe(role);
      expect(new URL(env.DATABASE_MIGRATION_URL.replace(/\$\{[^}]*\}/g, 'x')).username).toBe(`${role}_owner`);
      expect(env.DATABASE_URL).toMatch(new RegExp(`:\\$\\{${prefix}_DB_PASSWORD:\\?`));
    });

    it('runs in replicas that publish no host port and have names of their own, on 12 partitions', () => {
      expect(service.deploy?.replicas).toBeGreaterThanOrEqual(2);
      // Replicas of one service cannot all bind one host port: the gateway publishes it.
      expect(service.ports ?? []).toEqual([]);
      expect(service.container_name).toBeUndefined();
      const env = environmentOf(service);
      // A fixed INSTANCE_NAME would be every replica's; its default, the container's host name, is each one's own.
      expect(env.INSTANCE_NAME).toBeUndefined();
      expect(env.KAFKA_TOPIC_PARTITIONS).toBe('12');
      if (name === 'audit-recorder') expect(env.AUDIT_LOG_FILE).toContain('{instance}');
    });

    it('is reached on its port through the gateway, which waits for it to be healthy', () => {
      const gateway = compose.services.gateway;
      const published = (gateway.ports ?? []).map((p) => (typeof p === 'string' ? p : `${p.published}:${p.target}`));
      expect(published).toContain(`${port}:${port}`);
      expect(gatewayRoutes()).toContainEqual({ listen: port, upstream: `${name}:${port}` });
      expect(dependenciesOf(gateway)[name]).toBe('service_healthy');
    });

    it('is built from a Dockerfile that runs dist/apps/<service>/src/main.js as the node user', () => {
      const build = typeof service.build === 'string' ? { context: service.build } : (service.build ?? {});
      const dockerfile = resolve(ROOT, build.context ?? '.', build.dockerfile ?? 'Dockerfile');
      expect(existsSync(dockerfile)).toBe(true);

      const instructions = dockerInstructions(dockerfile);
      const last = (keyword: string) => [...instructions].reverse().find((i) => i.keyword === keyword)?.args;
      const cmd = JSON.parse(last('CMD') ?? 'null') as string[];
      expect([cmd[0], cmd[cmd.length - 1]]).toEqual(['node', `dist/apps/${name}/src/main.js`]);
      expect(cmd.slice(1, -1).every((flag) => flag.startsWith('--'))).toBe(true); // node flags only
      expect(last('USER')).toBe('node');
      expect(last('EXPOSE')).toBe(String(port));
      expect(last('HEALTHCHECK')).toContain('/health');
      expect(instructions.filter((i) => i.keyword === 'FROM').length).toBeGreaterThanOrEqual(2);
    });
  });

  describe("the audit-recorder's signing key", () => {
    it('is mounted into the recorder alone', () => {
      const mounting = Object.entries(compose.services)
        .filter(([, service]) => secretMounts(service).some((mount) => mount.source === 'audit_signing_key'))
        .map(([name]) => name);
      expect(mounting).toEqual(['audit-recorder']);
    });

    it('stops the recorder without it, naming the variable (so the loader check can fail)', () => {
      const env = processEnvOf(compose.services['audit-recorder']);
      delete env.AUDIT_SIGNING_KEY_FILE;
      expect(() => loadAuditRecorderConfig(env)).toThrow(
        /AUDIT_SIGNING_KEY_FILE: is required when NODE_ENV=production/,
      );
    });
  });

  describe('observability profile (prometheus, grafana)', () => {
    it.each(OBSERVABILITY)('%s runs only with the observability profile, from a pinned official image', (name) => {
      const service = compose.services[name];
      expect(service).toBeDefined();
      expect(service.profiles).toEqual(['observability']);
      const image = { prometheus: /^prom\/prometheus:v\d+\.\d+\.\d+$/, grafana: /^grafana\/grafana:\d+\.\d+\.\d+$/ }[
        name
      ];
      expect(service.image).toMatch(image);
    });

    it('leaves every other service without a profile, so plain `docker compose up` is unchanged', () => {
      const profiled = Object.entries(compose.services)
        .filter(([, service]) => (service.profiles ?? []).length > 0)
        .map(([name]) => name);
      expect(profiled.sort()).toEqual([...OBSERVABILITY].sort());
    });

    it.each([
      ['prometheus', 'PROMETHEUS_HOST_PORT', 9090, 9090],
      ['grafana', 'GRAFANA_HOST_PORT', 3000, 3000],
    ] as const)('%s publishes on the loopback only, its host port from %s', (name, variable, fallback, port) => {
      expect(compose.services[name].ports).toEqual([`127.0.0.1:\${${variable}:-${fallback}}:${port}`]);
    });

    it.each(OBSERVABILITY)('%s mounts folders and files that exist in the repository', (name) => {
      const mounts = bindMounts(compose.services[name]);
      expect(mounts.length).toBeGreaterThan(0);
      for (const { host } of mounts) expect({ host, exists: existsSync(host) }).toEqual({ host, exists: true });
    });

    it('starts Prometheus on the mounted configuration, whose rule files exist and whose jobs scrape every replica', () => {
      const prometheus = compose.services.prometheus;
      const command = Array.isArray(prometheus.command) ? prometheus.command : [];
      const configPath = command.find((arg) => arg.startsWith('--config.file='))?.split('=')[1] ?? '';
      const config = hostPathOf(prometheus, configPath);
      expect(config).toBe(join(ROOT, 'deploy', 'prometheus', 'prometheus.yml'));
      const parsed = readYaml<{
        rule_files?: string[];
        scrape_configs: Array<{
          job_name: string;
          dns_sd_configs?: Array<{ names: string[]; type: string; port: number }>;
        }>;
      }>(config as string);
      expect(parsed.rule_files).toEqual(['alerts.yml']);
      for (const file of parsed.rule_files ?? []) expect(existsSync(join(dirname(config as string), file))).toBe(true);
      // Job names are the service names (the alerts and the dashboard select on them); DNS type A on the
      // compose service name lists every replica.
      expect(parsed.scrape_configs.map((job) => ({ job: job.job_name, sd: job.dns_sd_configs }))).toEqual(
        SERVICE_NAMES.map((name) => ({
          job: name,
          sd: [expect.objectContaining({ names: [name], type: 'A', port: SERVICES[name] })],
        })),
      );
      expect(prometheus.volumes).toContain('prometheus-data:/prometheus');
    });

    it('provisions Grafana with the prometheus service as its data source and the mounted dashboards', () => {
      const grafana = compose.services.grafana;
      const provisioning = hostPathOf(grafana, '/etc/grafana/provisioning') ?? '';
      expect(provisioning).toBe(join(ROOT, 'deploy', 'grafana', 'provisioning'));

      const { datasources } = readYaml<{ datasources: Array<{ uid: string; type: string; url: string }> }>(
        join(provisioning, 'datasources', 'prometheus.yml'),
      );
      expect(datasources).toHaveLength(1);
      const url = new URL(datasources[0].url);
      expect(url.hostname).toBe('prometheus');
      expect(compose.services.prometheus.ports?.[0]).toMatch(new RegExp(`:${url.port}$`));
      expect(datasources[0]).toMatchObject({ uid: 'prometheus', type: 'prometheus' });

      const { providers } = readYaml<{ providers: Array<{ type: string; options: { path: string } }> }>(
        join(provisioning, 'dashboards', 'dashboards.yml'),
      );
      const dashboards = hostPathOf(grafana, providers[0].options.path) ?? '';
      expect(dashboards).toBe(join(ROOT, 'deploy', 'grafana', 'dashboards'));
      expect(existsSync(join(dashboards, 'audit-pipeline.json'))).toBe(true);
      const env = environmentOf(grafana);
      expect(hostPathOf(grafana, env.GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH)).toBe(
        join(dashboards, 'audit-pipeline.json'),
      );
      expect(env.GF_SECURITY_ADMIN_PASSWORD).toMatch(/^\$\{GRAFANA_ADMIN_PASSWORD:-.*\}$/);
      expect(env.GF_AUTH_ANONYMOUS_ORG_ROLE).toBe('Viewer');
    });
  });
});
