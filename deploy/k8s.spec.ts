/**
 * Checks the Kubernetes manifests of deploy/k8s without a cluster: every core object against the Kubernetes
 * API schemas (kubernetes-models, with unknown fields refused as the API server's strict field validation
 * does), the operators' custom resources against a subset of their CRD schemas, and against what the platform
 * needs: probes on the service's port, resources, the grace period, the restricted Pod Security profile,
 * selectors, every variable a service reads (its own zod schema, and its own loader accepting the whole
 * configuration), every Secret and ConfigMap key referenced, the migration Job, and the operator examples
 * agreeing with the services' configuration. Each check returns its problems, and a broken copy of the
 * manifests shows that it can fail.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, posix, relative, resolve } from 'node:path';
import Ajv, { type ValidateFunction } from 'ajv';
import { Deployment } from 'kubernetes-models/apps/v1';
import type { IDeployment } from 'kubernetes-models/apps/v1';
import { Job } from 'kubernetes-models/batch/v1';
import type { IJob } from 'kubernetes-models/batch/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import type { IPodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { ConfigMap, Namespace, Secret, Service } from 'kubernetes-models/v1';
import type { IConfigMap, IContainer, IPodSpec, ISecret, IService, IVolumeMount } from 'kubernetes-models/v1';
import { parseAllDocuments } from 'yaml';
import { ConfigError, migrationConfigShape } from '@audit/platform';
import { AuditRecorderConfigSchema, loadAuditRecorderConfig } from '../apps/audit-recorder/src/config';
import { AuditStreamerConfigSchema, loadAuditStreamerConfig } from '../apps/audit-streamer/src/config';
import { loadReleaseServiceConfig, ReleaseServiceConfigSchema } from '../apps/release-service/src/config';

const ROOT = resolve(__dirname, '..');
const K8S = join(ROOT, 'deploy', 'k8s');
const NAMESPACE = 'audit-platform';

/** What each service reads: its configuration schema and loader (docs/contracts.md, "Processes and defaults"). */
const SERVICES = {
  'release-service': {
    port: 3001,
    replicas: 2,
    prefix: 'RELEASE_SERVICE',
    shape: ReleaseServiceConfigSchema.shape,
    load: loadReleaseServiceConfig,
  },
  'audit-recorder': {
    port: 3002,
    replicas: 2,
    prefix: 'AUDIT_RECORDER',
    shape: AuditRecorderConfigSchema.shape,
    load: loadAuditRecorderConfig,
  },
  'audit-streamer': {
    port: 3003,
    replicas: 3,
    prefix: 'AUDIT_STREAMER',
    shape: AuditStreamerConfigSchema.shape,
    load: loadAuditStreamerConfig,
  },
} as const;
type ServiceName = keyof typeof SERVICES;
const SERVICE_NAMES = Object.keys(SERVICES) as ServiceName[];
const MIGRATION_VARIABLES = Object.keys(migrationConfigShape('x'));
const DB_SETUP_VARIABLES = [
  'DATABASE_ADMIN_URL',
  ...SERVICE_NAMES.flatMap((name) => MIGRATION_VARIABLES.map((v) => `${SERVICES[name].prefix}_${v}`)),
];
/** Variables whose value is a file the service reads at boot: it must be a key of a Secret mounted read-only. */
const FILE_VARIABLES = ['KAFKA_SSL_CA_FILE', 'KAFKA_SASL_PASSWORD_FILE', 'AUDIT_SIGNING_KEY_FILE'];
/** Valid values for what comes from Secrets, whose examples hold placeholders on purpose. */
const SECRET_STAND_INS: Record<string, string> = {
  AUTH_JWT_SECRET: 'k8s-spec-stand-in-secret-0123456789abcdef',
  ENCRYPTION_KEY: '00'.repeat(32),
};
/**
 * Valid files for the file variables the loaders read (written before the tests, removed after): the examples'
 * placeholders would stop the service. File variables without a stand-in are left out of the environment.
 */
const FILE_STAND_INS: Record<string, string> = {};
let standInDir = '';
/** Writes `content` to a file of its own in the stand-in folder and returns its path. */
function writeStandIn(name: string, content: string): string {
  const path = join(standInDir, name);
  writeFileSync(path, content, { mode: 0o600 });
  return path;
}
const ed25519Pem = () => generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();

beforeAll(() => {
  standInDir = mkdtempSync(join(tmpdir(), 'k8s-spec-'));
  FILE_STAND_INS['AUDIT_SIGNING_KEY_FILE'] = writeStandIn('audit-signing-key.pem', ed25519Pem());
});
afterAll(() => rmSync(standInDir, { recursive: true, force: true }));

// ---- loading ----------------------------------------------------------------------------------------------

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [field: string]: unknown;
}
interface Loaded {
  file: string;
  object: K8sObject;
}
interface Kustomization {
  dir: string;
  doc: { resources?: string[]; images?: Array<{ name: string; newName?: string; newTag?: string }> } & Record<
    string,
    unknown
  >;
}
interface Manifests {
  /** What `kubectl apply -k deploy/k8s` creates. */
  base: Loaded[];
  /** What `kubectl apply -k deploy/k8s/operators` creates. */
  operators: Loaded[];
  /** The Secrets an operator creates from *.example.yaml (or that Strimzi writes). */
  examples: Loaded[];
  kustomizations: Kustomization[];
  /** Every YAML file under deploy/k8s, relative to it. */
  files: string[];
}

function yamlFiles(dir: string): string[] {
  return readdirSync(dir)
    .sort()
    .flatMap((entry) => {
      const path = join(dir, entry);
      if (statSync(path).isDirectory()) return yamlFiles(path);
      return /\.ya?ml$/.test(entry) ? [path] : [];
    });
}

function parseFile(path: string): unknown[] {
  return parseAllDocuments(readFileSync(path, 'utf8')).map((doc) => {
    if (doc.errors.length > 0) throw new Error(`${path}: ${doc.errors.map((e) => e.message).join('; ')}`);
    return doc.toJS() as unknown;
  });
}

function loadManifests(): Manifests {
  const files = yamlFiles(K8S).map((path) => relative(K8S, path).split('\\').join('/'));
  const loaded = files.flatMap((file) =>
    parseFile(join(K8S, file))
      .filter((object) => object !== null)
      .map((object) => ({ file, object: object as K8sObject })),
  );
  const kustomizations = loaded
    .filter(({ object }) => object.kind === 'Kustomization')
    .map(({ file, object }) => ({ dir: posix.dirname(file), doc: object as unknown as Kustomization['doc'] }));
  const listed = (dir: string) =>
    new Set(
      (kustomizations.find((k) => k.dir === dir)?.doc.resources ?? []).map((r) => posix.normalize(posix.join(dir, r))),
    );
  const base = listed('.');
  const operators = listed('operators');
  return {
    base: loaded.filter(({ file }) => base.has(file)),
    operators: loaded.filter(({ file }) => operators.has(file)),
    examples: loaded.filter(({ file }) => file.endsWith('.example.yaml')),
    kustomizations,
    files,
  };
}

// ---- accessors --------------------------------------------------------------------------------------------

const ofKind = <T>(items: Loaded[], kind: string): T[] =>
  items.filter(({ object }) => object.kind === kind).map(({ object }) => object as unknown as T);
const deployments = (m: Manifests) => ofKind<IDeployment>(m.base, 'Deployment');
const deploymentOf = (m: Manifests, name: string) => deployments(m).find((d) => d.metadata?.name === name);
const jobs = (m: Manifests) => ofKind<IJob>(m.base, 'Job');
const configMap = (m: Manifests, name: string) =>
  ofKind<IConfigMap>(m.base, 'ConfigMap').find((c) => c.metadata?.name === name);

/** The Secret's keys as the examples (or Strimzi) define them. */
function secretKeys(m: Manifests, name: string): Map<string, string> | undefined {
  const secret = ofKind<ISecret>(m.examples, 'Secret').find((s) => s.metadata?.name === name);
  if (!secret) return undefined;
  const data = Object.entries(secret.data ?? {}).map(([k, v]): [string, string] => [
    k,
    Buffer.from(v, 'base64').toString(),
  ]);
  return new Map([...data, ...Object.entries(secret.stringData ?? {})]);
}

interface PodTemplate {
  owner: string;
  labels: Record<string, string>;
  spec: IPodSpec;
}
function podTemplates(m: Manifests): PodTemplate[] {
  return [
    ...deployments(m).map((d) => ({ owner: `Deployment/${d.metadata?.name}`, template: d.spec?.template })),
    ...jobs(m).map((j) => ({ owner: `Job/${j.metadata?.name}`, template: j.spec?.template })),
  ].map(({ owner, template }) => ({
    owner,
    labels: template?.metadata?.labels ?? {},
    spec: template?.spec ?? { containers: [] },
  }));
}
const containersOf = (spec: IPodSpec): IContainer[] => [...(spec.initContainers ?? []), ...spec.containers];

const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) =>
  selector !== undefined &&
  Object.keys(selector).length > 0 &&
  Object.entries(selector).every(([k, v]) => labels[k] === v);

/** Where a container's variable comes from, after envFrom and env (env wins, as in Kubernetes). */
type Source =
  | { from: 'value'; value: string }
  | { from: 'configMap'; name: string; key: string; value?: string }
  | { from: 'secret'; name: string; key: string; value?: string }
  | { from: 'field'; path: string };

function environment(m: Manifests, container: IContainer): Map<string, Source> {
  const env = new Map<string, Source>();
  for (const from of container.envFrom ?? []) {
    if (from.configMapRef?.name) {
      const name = from.configMapRef.name;
      for (const [key, value] of Object.entries(configMap(m, name)?.data ?? {}))
        env.set(key, { from: 'configMap', name, key, value });
    }
    if (from.secretRef?.name) {
      const name = from.secretRef.name;
      for (const [key, value] of secretKeys(m, name) ?? []) env.set(key, { from: 'secret', name, key, value });
    }
  }
  for (const variable of container.env ?? []) {
    const ref = variable.valueFrom;
    if (ref?.configMapKeyRef) {
      const { name = '', key } = ref.configMapKeyRef;
      env.set(variable.name, { from: 'configMap', name, key, value: configMap(m, name)?.data?.[key] });
    } else if (ref?.secretKeyRef) {
      const { name = '', key } = ref.secretKeyRef;
      env.set(variable.name, { from: 'secret', name, key, value: secretKeys(m, name)?.get(key) });
    } else if (ref?.fieldRef) {
      env.set(variable.name, { from: 'field', path: ref.fieldRef.fieldPath });
    } else {
      env.set(variable.name, { from: 'value', value: variable.value ?? '' });
    }
  }
  return env;
}

/** The environment a process would see, secrets and the files it reads replaced by valid stand-ins. */
function processEnv(env: Map<string, Source>): Record<string, string> {
  const result: Record<string, string> = {};
  for (const [name, source] of env) {
    if (FILE_VARIABLES.includes(name)) {
      if (FILE_STAND_INS[name]) result[name] = FILE_STAND_INS[name];
      continue;
    }
    if (source.from === 'field') result[name] = source.path === 'metadata.name' ? 'pod-name-7d9f8-x2x4q' : 'field';
    else if (source.from === 'secret') result[name] = SECRET_STAND_INS[name] ?? source.value ?? '';
    else result[name] = source.value ?? '';
  }
  return result;
}

/** The file a file variable names, the container's mount it lies under, and the key of the Secret mounted there. */
function mountedFile(
  spec: IPodSpec,
  container: IContainer,
  source: Source,
): { path: string; mount?: IVolumeMount; secret?: string; key?: string } {
  const path = source.from === 'value' || source.from === 'configMap' ? (source.value ?? '') : '';
  const mount = (container.volumeMounts ?? []).find((v) => path.startsWith(`${v.mountPath}/`));
  const volume = spec.volumes?.find((v) => v.name === mount?.name);
  const file = mount ? path.slice(mount.mountPath.length + 1) : '';
  const key = volume?.secret?.items?.find((i) => i.path === file)?.key ?? (volume?.secret?.items ? undefined : file);
  return { path, mount, secret: volume?.secret?.secretName, key };
}

/** Which program a container runs, by its command: a service (the image's CMD), its migrate-only mode, db-setup. */
type Program = { kind: 'service' | 'migrate'; service: ServiceName } | { kind: 'db-setup' } | { kind: 'unknown' };
function programOf(container: IContainer): Program {
  const image = (container.image ?? '').replace(/:[^/]*$/, '');
  const service = SERVICE_NAMES.find((name) => image === `audit-events-platform/${name}`);
  const command = [...(container.command ?? []), ...(container.args ?? [])];
  if (service && command.length === 0) return { kind: 'service', service };
  const script = command[0] === 'node' ? command[command.length - 1] : '';
  const migrated = /^dist\/apps\/([a-z-]+)\/src\/migrate\.js$/.exec(script)?.[1] as ServiceName | undefined;
  if (migrated && migrated in SERVICES) return { kind: 'migrate', service: migrated };
  if (script === 'dist/tools/db-setup.js') return { kind: 'db-setup' };
  return { kind: 'unknown' };
}

function knownVariables(program: Program): string[] {
  if (program.kind === 'service') return Object.keys(SERVICES[program.service].shape);
  if (program.kind === 'migrate') return MIGRATION_VARIABLES;
  if (program.kind === 'db-setup') return DB_SETUP_VARIABLES;
  return [];
}

/** A probe's or Service's port: a number, or the name of one of the container's ports. */
function portNumber(container: IContainer, port: number | string | undefined): number | undefined {
  if (typeof port === 'number') return port;
  return container.ports?.find((p) => p.name === port)?.containerPort;
}

// ---- schemas ----------------------------------------------------------------------------------------------

/** The core kinds the manifests may use, each with its model of the Kubernetes API schema. */
const CORE_MODELS: Record<string, { prototype: { validate(): void } }> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'apps/v1/Deployment': Deployment,
  'batch/v1/Job': Job,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
};

/**
 * Validates `object` with the model's schema, noting which fields the validator read: a field it never read
 * is not in the schema (kubernetes-models accepts unknown fields; `kubectl apply` refuses them).
 */
function validateCore(model: { prototype: { validate(): void } }, object: K8sObject): string[] {
  const read = new Set<string>();
  const track = (value: unknown, path: string): unknown =>
    value === null || typeof value !== 'object'
      ? value
      : new Proxy(value, {
          get(target, key, receiver) {
            if (typeof key === 'string') read.add(`${path}/${key}`);
            return track(Reflect.get(target, key, receiver), `${path}/${String(key)}`);
          },
        });
  const problems: string[] = [];
  try {
    model.prototype.validate.call(track(object, ''));
  } catch (err) {
    problems.push((err as Error).message);
  }
  const walk = (value: unknown, path: string): void => {
    if (value === null || typeof value !== 'object') return;
    for (const [key, child] of Object.entries(value)) {
      if (!read.has(`${path}/${key}`)) problems.push(`unknown field ${path}/${key}`);
      else walk(child, `${path}/${key}`);
    }
  };
  walk(object, '');
  return problems;
}

const strictObject = (properties: Record<string, unknown>, required: string[] = Object.keys(properties)) => ({
  type: 'object',
  properties,
  required,
  additionalProperties: false,
});
const labels = { type: 'object', additionalProperties: { type: 'string' } };
const metadata = (withCluster: boolean) =>
  strictObject(
    {
      name: { type: 'string', pattern: '^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$' },
      namespace: { type: 'string' },
      labels: withCluster
        ? { ...labels, properties: { 'strimzi.io/cluster': { type: 'string' } }, required: ['strimzi.io/cluster'] }
        : labels,
    },
    withCluster ? ['name', 'labels'] : ['name'],
  );
const resources = strictObject(
  {
    requests: { type: 'object', additionalProperties: { type: 'string' } },
    limits: { type: 'object', additionalProperties: { type: 'string' } },
  },
  [],
);
const kafkaConfig = { type: 'object', additionalProperties: { type: ['string', 'number', 'boolean'] } };
const resource = (kind: string, spec: object, withCluster: boolean) =>
  strictObject({
    apiVersion: { const: kind.split(' ')[0] },
    kind: { const: kind.split(' ')[1] },
    metadata: metadata(withCluster),
    spec,
  });

/**
 * A subset of the CRD schemas of Strimzi 1.x (kafka.strimzi.io/v1) and CloudNativePG 1.30 (postgresql.cnpg.io/v1):
 * the fields the examples use, with the types, enums and required fields of the upstream schemas (which the
 * examples were also checked against, whole). Anything else is refused: when an example starts using another
 * field, add it here from the upstream CRD.
 */
const CUSTOM_SCHEMAS: Record<string, object> = {
  'kafka.strimzi.io/v1 KafkaNodePool': resource(
    'kafka.strimzi.io/v1 KafkaNodePool',
    strictObject(
      {
        replicas: { type: 'integer', minimum: 0 },
        roles: { type: 'array', items: { enum: ['controller', 'broker'] }, minItems: 1 },
        storage: strictObject({
          type: { enum: ['jbod'] },
          volumes: {
            type: 'array',
            items: strictObject(
              {
                id: { type: 'integer', minimum: 0 },
                type: { enum: ['ephemeral', 'persistent-claim'] },
                size: { type: 'string' },
                deleteClaim: { type: 'boolean' },
                kraftMetadata: { enum: ['shared'] },
              },
              ['type'],
            ),
          },
        }),
        resources,
      },
      ['replicas', 'roles', 'storage'],
    ),
    true,
  ),
  'kafka.strimzi.io/v1 Kafka': resource(
    'kafka.strimzi.io/v1 Kafka',
    strictObject(
      {
        kafka: strictObject(
          {
            version: { type: 'string' },
            metadataVersion: { type: 'string' },
            listeners: {
              type: 'array',
              minItems: 1,
              items: strictObject(
                {
                  name: { type: 'string', pattern: '^[a-z0-9]{1,11}$' },
                  port: { type: 'integer', minimum: 9092 },
                  type: { enum: ['internal', 'route', 'loadbalancer', 'nodeport', 'ingress', 'cluster-ip'] },
                  tls: { type: 'boolean' },
                  authentication: strictObject({
                    type: { enum: ['tls', 'scram-sha-512', 'oauth', 'custom'] },
                  }),
                },
                ['name', 'port', 'type', 'tls'],
              ),
            },
            authorization: strictObject({ type: { enum: ['simple', 'opa', 'keycloak', 'custom'] } }),
            config: kafkaConfig,
          },
          ['listeners'],
        ),
        entityOperator: strictObject({ topicOperator: { type: 'object' }, userOperator: { type: 'object' } }, []),
      },
      ['kafka'],
    ),
    false,
  ),
  'kafka.strimzi.io/v1 KafkaTopic': resource(
    'kafka.strimzi.io/v1 KafkaTopic',
    strictObject(
      {
        topicName: { type: 'string' },
        partitions: { type: 'integer', minimum: 1 },
        replicas: { type: 'integer', minimum: 1, maximum: 32767 },
        config: kafkaConfig,
      },
      [],
    ),
    true,
  ),
  'kafka.strimzi.io/v1 KafkaUser': resource(
    'kafka.strimzi.io/v1 KafkaUser',
    strictObject(
      {
        authentication: strictObject({ type: { enum: ['tls', 'tls-external', 'scram-sha-512'] } }),
        authorization: strictObject({
          type: { enum: ['simple'] },
          acls: {
            type: 'array',
            items: strictObject(
              {
                resource: strictObject(
                  {
                    type: { enum: ['topic', 'group', 'cluster', 'transactionalId'] },
                    name: { type: 'string' },
                    patternType: { enum: ['literal', 'prefix'] },
                  },
                  ['type'],
                ),
                operations: {
                  type: 'array',
                  items: {
                    enum: [
                      'Read',
                      'Write',
                      'Create',
                      'Delete',
                      'Alter',
                      'Describe',
                      'ClusterAction',
                      'AlterConfigs',
                      'DescribeConfigs',
                      'IdempotentWrite',
                      'All',
                    ],
                  },
                },
              },
              ['resource', 'operations'],
            ),
          },
        }),
      },
      [],
    ),
    true,
  ),
  'postgresql.cnpg.io/v1 Cluster': resource(
    'postgresql.cnpg.io/v1 Cluster',
    strictObject(
      {
        instances: { type: 'integer', minimum: 1 },
        imageName: { type: 'string' },
        enableSuperuserAccess: { type: 'boolean' },
        postgresql: strictObject(
          {
            synchronous: strictObject(
              {
                method: { enum: ['any', 'first'] },
                number: { type: 'integer' },
                dataDurability: { enum: ['required', 'preferred'] },
              },
              ['method', 'number'],
            ),
            parameters: { type: 'object', additionalProperties: { type: 'string' } },
          },
          [],
        ),
        storage: strictObject({ size: { type: 'string' }, storageClass: { type: 'string' } }, []),
        resources,
      },
      ['instances'],
    ),
    false,
  ),
};

const KUSTOMIZATION_SCHEMA = strictObject(
  {
    apiVersion: { const: 'kustomize.config.k8s.io/v1beta1' },
    kind: { const: 'Kustomization' },
    namespace: { type: 'string' },
    resources: { type: 'array', items: { type: 'string' }, minItems: 1, uniqueItems: true },
    images: {
      type: 'array',
      items: strictObject({ name: { type: 'string' }, newName: { type: 'string' }, newTag: { type: 'string' } }, [
        'name',
      ]),
    },
  },
  ['apiVersion', 'kind', 'resources'],
);

const ajv = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true });
const customValidators: Record<string, ValidateFunction> = Object.fromEntries(
  Object.entries(CUSTOM_SCHEMAS).map(([kind, schema]) => [kind, ajv.compile(schema)]),
);
const validateKustomization = ajv.compile(KUSTOMIZATION_SCHEMA);
const ajvProblems = (validate: ValidateFunction, where: string) =>
  (validate.errors ?? []).map((e) => `${where}${e.instancePath} ${e.message ?? ''} ${JSON.stringify(e.params)}`);

// ---- checks -----------------------------------------------------------------------------------------------

type Check = (m: Manifests) => string[];

const CHECKS: Record<string, Check> = {
  'every core object is valid against the Kubernetes API schema, with no unknown field': (m) =>
    [...m.base, ...m.examples].flatMap(({ file, object }) => {
      const model = CORE_MODELS[`${object.apiVersion}/${object.kind}`];
      if (!model) return [`${file}: no Kubernetes schema for ${object.apiVersion} ${object.kind}`];
      return validateCore(model, object).map((p) => `${file} ${object.kind}/${object.metadata?.name}: ${p}`);
    }),

  'every custom resource of the operator examples is valid against its CRD schema': (m) =>
    m.operators.flatMap(({ file, object }) => {
      const validate = customValidators[`${object.apiVersion} ${object.kind}`];
      const where = `${file} ${object.kind}/${object.metadata?.name}`;
      if (!validate) return [`${where}: no schema for ${object.apiVersion} ${object.kind}`];
      return validate(object) ? [] : ajvProblems(validate, where);
    }),

  'each kustomization lists every manifest of its folder and no example, and sets every image': (m) => {
    const problems: string[] = [];
    for (const dir of ['.', 'operators']) {
      const kustomization = m.kustomizations.find((k) => k.dir === dir);
      if (!kustomization) {
        problems.push(`${dir}: no kustomization.yaml`);
        continue;
      }
      if (!validateKustomization(kustomization.doc)) problems.push(...ajvProblems(validateKustomization, dir));
      if (kustomization.doc['namespace'] !== NAMESPACE) problems.push(`${dir}: namespace is not ${NAMESPACE}`);
      const listed = (kustomization.doc.resources ?? []).map((r) => posix.normalize(posix.join(dir, r)));
      for (const file of listed) {
        if (!m.files.includes(file)) problems.push(`${dir}/kustomization.yaml lists ${file}, which does not exist`);
        if (file.endsWith('.example.yaml')) problems.push(`${dir}/kustomization.yaml applies the example ${file}`);
      }
      const inFolder = m.files.filter(
        (f) => posix.dirname(f) === dir && !f.endsWith('kustomization.yaml') && !f.endsWith('.example.yaml'),
      );
      for (const file of inFolder)
        if (!listed.includes(file)) problems.push(`${file} is not listed in ${dir}/kustomization.yaml`);
    }
    const base = m.kustomizations.find((k) => k.dir === '.');
    const images = new Map((base?.doc.images ?? []).map((i) => [i.name, i]));
    for (const { owner, spec } of podTemplates(m))
      for (const c of containersOf(spec)) {
        const image = images.get(c.image ?? '');
        if (!image?.newName || !image.newTag)
          problems.push(`${owner} ${c.name}: image ${c.image} has no newName/newTag`);
      }
    return problems;
  },

  'every object is named once, in the platform namespace': (m) => {
    const problems: string[] = [];
    const seen = new Set<string>();
    for (const { file, object } of [...m.base, ...m.operators, ...m.examples]) {
      const id = `${object.kind}/${object.metadata?.name}`;
      if (seen.has(id)) problems.push(`${file}: ${id} twice`);
      seen.add(id);
      if (object.kind === 'Namespace') {
        if (object.metadata?.name !== NAMESPACE) problems.push(`${file}: namespace ${object.metadata?.name}`);
      } else if (object.metadata?.namespace !== NAMESPACE) {
        problems.push(`${file}: ${id} is in namespace ${object.metadata?.namespace}, not ${NAMESPACE}`);
      }
    }
    return problems;
  },

  'each service runs its replicas with probes on its port, resources and a grace period above its shutdown': (m) =>
    SERVICE_NAMES.flatMap((name) => {
      const deployment = deploymentOf(m, name);
      if (!deployment) return [`no Deployment ${name}`];
      const problems: string[] = [];
      const say = (problem: string) => problems.push(`Deployment/${name}: ${problem}`);
      if ((deployment.spec?.replicas ?? 1) < SERVICES[name].replicas)
        say(`replicas ${deployment.spec?.replicas} < ${SERVICES[name].replicas}`);
      const pod = deployment.spec?.template.spec;
      const container = pod?.containers.find((c) => c.name === name);
      if (!pod || !container) return [...problems, `Deployment/${name}: no container ${name}`];
      if (programOf(container).kind !== 'service') say(`container ${name} does not run the ${name} image's CMD`);
      const config = SERVICES[name].load(processEnv(environment(m, container)));
      const port = portNumber(container, 'http');
      if (port !== config.PORT || port !== SERVICES[name].port) say(`port http ${port}, PORT ${config.PORT}`);
      const probes = {
        liveness: [container.livenessProbe, '/health'],
        readiness: [container.readinessProbe, '/ready'],
        startup: [container.startupProbe, '/health'],
      } as const;
      for (const [kind, [probe, path]] of Object.entries(probes)) {
        if (probe?.httpGet?.path !== path) say(`${kind} probe is not GET ${path}`);
        if (portNumber(container, probe?.httpGet?.port) !== config.PORT) say(`${kind} probe is not on PORT`);
      }
      for (const kind of ['requests', 'limits'] as const)
        for (const resource of ['cpu', 'memory'])
          if (!container.resources?.[kind]?.[resource]) say(`no ${kind}.${resource}`);
      const preStop = container.lifecycle?.preStop?.exec?.command ?? [];
      const pauseMs = preStop[0] === 'sleep' ? Number(preStop[1]) * 1000 : 0;
      const graceMs = (pod.terminationGracePeriodSeconds ?? 30) * 1000;
      if (graceMs <= pauseMs + config.SHUTDOWN_TIMEOUT_MS)
        say(`terminationGracePeriodSeconds ${graceMs / 1000} s <= preStop ${pauseMs / 1000} s + SHUTDOWN_TIMEOUT_MS`);
      if (config.INSTANCE_NAME !== 'pod-name-7d9f8-x2x4q') say('INSTANCE_NAME is not the pod name');
      if (config.KAFKA_TOPIC_PARTITIONS !== 12) say(`KAFKA_TOPIC_PARTITIONS ${config.KAFKA_TOPIC_PARTITIONS}`);
      if (config.NODE_ENV !== 'production') say(`NODE_ENV ${config.NODE_ENV}`);
      return problems;
    }),

  'every pod meets the restricted Pod Security profile with a read-only root filesystem': (m) =>
    podTemplates(m).flatMap(({ owner, spec }) => {
      const problems: string[] = [];
      const pod = spec.securityContext ?? {};
      if (pod.runAsNonRoot !== true) problems.push(`${owner}: runAsNonRoot`);
      // The image's USER is a name (node): the kubelet can check runAsNonRoot only against a numeric uid.
      if (!pod.runAsUser) problems.push(`${owner}: runAsUser is not a non-zero uid`);
      if (pod.seccompProfile?.type !== 'RuntimeDefault') problems.push(`${owner}: seccompProfile`);
      if (spec.automountServiceAccountToken !== false) problems.push(`${owner}: mounts a service account token`);
      for (const c of containersOf(spec)) {
        const sc = c.securityContext ?? {};
        if (sc.allowPrivilegeEscalation !== false) problems.push(`${owner} ${c.name}: allowPrivilegeEscalation`);
        if (JSON.stringify(sc.capabilities?.drop) !== '["ALL"]') problems.push(`${owner} ${c.name}: capabilities`);
        if (sc.readOnlyRootFilesystem !== true) problems.push(`${owner} ${c.name}: readOnlyRootFilesystem`);
        if (sc.privileged || sc.runAsUser === 0) problems.push(`${owner} ${c.name}: privileged or root`);
        if (!c.resources?.requests?.memory || !c.resources.limits?.memory) problems.push(`${owner} ${c.name}: memory`);
      }
      return problems;
    }),

  "selectors match their pods: the Deployment's own, its Service's and its PodDisruptionBudget's": (m) => {
    const problems: string[] = [];
    const pods = deployments(m).map((d) => ({
      name: d.metadata?.name ?? '',
      labels: d.spec?.template.metadata?.labels ?? {},
    }));
    const selecting = (selector: Record<string, string> | undefined) =>
      pods.filter((p) => matches(selector, p.labels)).map((p) => p.name);
    for (const d of deployments(m)) {
      const name = d.metadata?.name ?? '';
      if (!matches(d.spec?.selector.matchLabels, d.spec?.template.metadata?.labels ?? {}))
        problems.push(`Deployment/${name}: selector does not match its template`);
      for (const spread of d.spec?.template.spec?.topologySpreadConstraints ?? [])
        if (JSON.stringify(selecting(spread.labelSelector?.matchLabels)) !== JSON.stringify([name]))
          problems.push(`Deployment/${name}: topology spread selects ${selecting(spread.labelSelector?.matchLabels)}`);
    }
    for (const name of SERVICE_NAMES) {
      const service = ofKind<IService>(m.base, 'Service').find((s) => s.metadata?.name === name);
      if (JSON.stringify(selecting(service?.spec?.selector)) !== JSON.stringify([name]))
        problems.push(`Service/${name} selects ${JSON.stringify(selecting(service?.spec?.selector))}`);
      const container = deploymentOf(m, name)?.spec?.template.spec?.containers.find((c) => c.name === name);
      for (const port of service?.spec?.ports ?? []) {
        const target = container && portNumber(container, port.targetPort as number | string);
        if (target !== SERVICES[name].port)
          problems.push(`Service/${name}: targetPort ${port.targetPort} -> ${target}`);
      }
      const pdb = ofKind<IPodDisruptionBudget>(m.base, 'PodDisruptionBudget').find((p) => p.metadata?.name === name);
      if (pdb?.spec?.minAvailable !== 1) problems.push(`PodDisruptionBudget/${name}: minAvailable is not 1`);
      if (JSON.stringify(selecting(pdb?.spec?.selector?.matchLabels)) !== JSON.stringify([name]))
        problems.push(
          `PodDisruptionBudget/${name} selects ${JSON.stringify(selecting(pdb?.spec?.selector?.matchLabels))}`,
        );
    }
    return problems;
  },

  'every variable a container sets is one its program reads, and files it reads are mounted': (m) =>
    podTemplates(m).flatMap(({ owner, spec }) =>
      containersOf(spec).flatMap((container) => {
        const where = `${owner} ${container.name}`;
        const program = programOf(container);
        if (program.kind === 'unknown') return [`${where}: runs an unknown program`];
        const known = knownVariables(program);
        const env = environment(m, container);
        const problems = [...env.keys()]
          .filter((name) => !known.includes(name))
          .map(
            (name) =>
              `${where}: ${name} is not a variable of ${program.kind} ${'service' in program ? program.service : ''}`,
          );
        for (const name of FILE_VARIABLES) {
          const source = env.get(name);
          if (!source) continue;
          const { path, mount, secret, key } = mountedFile(spec, container, source);
          if (!secret || !key || !secretKeys(m, secret)?.has(key))
            problems.push(`${where}: ${name}=${path} is not a key of a mounted Secret`);
          else if (mount?.readOnly !== true) problems.push(`${where}: ${name} is on a mount that is not read-only`);
        }
        if (program.kind === 'service') {
          const logFile = env.get('AUDIT_LOG_FILE');
          const logPath = logFile && 'value' in logFile ? (logFile.value ?? '') : undefined;
          const writable = (container.volumeMounts ?? []).some((v) => {
            const volume = spec.volumes?.find((vol) => vol.name === v.name);
            return logPath?.startsWith(`${v.mountPath}/`) && (volume?.emptyDir || volume?.persistentVolumeClaim);
          });
          if (logPath !== undefined && !['-', 'stdout'].includes(logPath) && !writable)
            problems.push(`${where}: AUDIT_LOG_FILE=${logPath} is on the read-only root filesystem`);
          if (program.service === 'audit-recorder' && logPath === undefined)
            problems.push(`${where}: AUDIT_LOG_FILE defaults to a file on the read-only root filesystem`);
        }
        return problems;
      }),
    ),

  // Production refuses to start without AUDIT_SIGNING_KEY_FILE; the image's development key is public.
  "audit-recorder's checkpoint signing key is a file of a Secret mounted read-only that no other pod reads": (m) => {
    const spec = deploymentOf(m, 'audit-recorder')?.spec?.template.spec;
    const container = spec?.containers.find((c) => c.name === 'audit-recorder');
    if (!spec || !container) return ['no container audit-recorder'];
    const source = environment(m, container).get('AUDIT_SIGNING_KEY_FILE');
    if (!source) return ['audit-recorder: AUDIT_SIGNING_KEY_FILE is not set'];
    const { path, mount, secret, key } = mountedFile(spec, container, source);
    if (!secret || !key) return [`audit-recorder: AUDIT_SIGNING_KEY_FILE=${path} is not in a mounted Secret`];
    const problems: string[] = [];
    if (mount?.readOnly !== true) problems.push(`audit-recorder: the signing key's mount ${path} is not read-only`);
    if (!secretKeys(m, secret)?.get(key)?.includes('-----BEGIN PRIVATE KEY-----'))
      problems.push(`Secret ${secret}: the example of ${key} does not show a PEM private key`);
    for (const { owner, spec: other } of podTemplates(m)) {
      if (owner === 'Deployment/audit-recorder') continue;
      const reads = [
        ...(other.volumes ?? []).map((v) => v.secret?.secretName),
        ...containersOf(other).flatMap((c) => [
          ...(c.envFrom ?? []).map((f) => f.secretRef?.name),
          ...(c.env ?? []).map((e) => e.valueFrom?.secretKeyRef?.name),
        ]),
      ];
      if (reads.includes(secret)) problems.push(`${owner} reads the Secret ${secret}`);
    }
    return problems;
  },

  "each service's own loader accepts its configuration, and the example placeholders stop it": (m) =>
    SERVICE_NAMES.flatMap((name) => {
      const spec = deploymentOf(m, name)?.spec?.template.spec;
      const container = spec?.containers.find((c) => c.name === name);
      if (!spec || !container) return [`no container ${name}`];
      const env = environment(m, container);
      const problems: string[] = [];
      try {
        SERVICES[name].load(processEnv(env));
      } catch (err) {
        problems.push(`${name}: ${(err as Error).message}`);
      }
      // Each example value in place of its valid stand-in: for a file, the example key of the mounted Secret.
      const placeholders = [
        ...Object.keys(SECRET_STAND_INS)
          .filter((v) => env.get(v)?.from === 'secret')
          .map((variable) => ({ variable, value: (env.get(variable) as { value?: string }).value ?? '' })),
        ...Object.keys(FILE_STAND_INS).flatMap((variable) => {
          const source = env.get(variable);
          const { secret, key } = source ? mountedFile(spec, container, source) : {};
          const example = secret && key ? secretKeys(m, secret)?.get(key) : undefined;
          // An unset or unmounted file is reported by the other checks.
          return example === undefined ? [] : [{ variable, value: writeStandIn(`example-${variable}`, example) }];
        }),
      ];
      for (const { variable, value } of placeholders) {
        const placeholder = { ...processEnv(env), [variable]: value };
        try {
          SERVICES[name].load(placeholder);
          problems.push(`${name}: the example value of ${variable} does not stop the service`);
        } catch (err) {
          if (!(err instanceof ConfigError) || !err.problems.some((p) => p.variable === variable))
            problems.push(`${name}: the example value of ${variable} fails otherwise: ${(err as Error).message}`);
        }
      }
      return problems;
    }),

  'every Secret and ConfigMap a pod reads exists with the keys it reads': (m) =>
    podTemplates(m).flatMap(({ owner, spec }) => {
      const problems: string[] = [];
      const needSecret = (name: string | undefined, key?: string) => {
        const keys = secretKeys(m, name ?? '');
        if (!keys) problems.push(`${owner}: no Secret ${name} (in *.example.yaml)`);
        else if (key !== undefined && !keys.has(key)) problems.push(`${owner}: Secret ${name} has no key ${key}`);
      };
      const needConfigMap = (name: string | undefined, key?: string) => {
        const data = configMap(m, name ?? '')?.data;
        if (!data) problems.push(`${owner}: no ConfigMap ${name}`);
        else if (key !== undefined && !(key in data)) problems.push(`${owner}: ConfigMap ${name} has no key ${key}`);
      };
      for (const c of containersOf(spec)) {
        for (const from of c.envFrom ?? []) {
          if (from.secretRef) needSecret(from.secretRef.name);
          if (from.configMapRef) needConfigMap(from.configMapRef.name);
        }
        for (const variable of c.env ?? []) {
          const ref = variable.valueFrom;
          if (ref?.secretKeyRef) needSecret(ref.secretKeyRef.name, ref.secretKeyRef.key);
          if (ref?.configMapKeyRef) needConfigMap(ref.configMapKeyRef.name, ref.configMapKeyRef.key);
        }
        for (const mount of c.volumeMounts ?? [])
          if (!spec.volumes?.some((v) => v.name === mount.name)) problems.push(`${owner}: no volume ${mount.name}`);
      }
      for (const volume of spec.volumes ?? []) {
        if (volume.secret) {
          needSecret(volume.secret.secretName);
          for (const item of volume.secret.items ?? []) needSecret(volume.secret.secretName, item.key);
        }
        if (volume.configMap)
          for (const item of volume.configMap.items ?? []) needConfigMap(volume.configMap.name, item.key);
      }
      return problems;
    }),

  'the migration Job sets up the databases, then migrates each service with its own image, before the rollout': (m) => {
    const job = jobs(m).find((j) => j.metadata?.name === 'audit-db-migrate');
    if (!job) return ['no Job audit-db-migrate'];
    const problems: string[] = [];
    const pod = job.spec?.template.spec;
    const init = pod?.initContainers ?? [];
    if (init.length !== 1 || programOf(init[0]).kind !== 'db-setup')
      problems.push('the init container is not db-setup');
    if (!existsSync(join(ROOT, 'tools', 'db-setup.ts'))) problems.push('tools/db-setup.ts is missing');
    const migrated = (pod?.containers ?? []).map((c) => ({ c, program: programOf(c) }));
    for (const name of SERVICE_NAMES) {
      const found = migrated.find(({ program }) => program.kind === 'migrate' && program.service === name);
      if (!found) problems.push(`no container migrates ${name}`);
      else if ((found.c.image ?? '').replace(/:[^/]*$/, '') !== `audit-events-platform/${name}`)
        problems.push(`${name} is migrated by image ${found.c.image}`);
      if (!existsSync(join(ROOT, 'apps', name, 'src', 'migrate.ts')))
        problems.push(`apps/${name}/src/migrate.ts is missing`);
    }
    if (pod?.restartPolicy === 'Always') problems.push('restartPolicy Always');
    // README.md applies the migration first with `-l app.kubernetes.io/component=migration`, before the
    // Deployments: the Job must carry the label and read nothing but Secrets, which exist before.
    if (job.metadata?.labels?.['app.kubernetes.io/component'] !== 'migration')
      problems.push('Job lacks the migration label');
    for (const c of containersOf(pod ?? { containers: [] }))
      if ((c.envFrom ?? []).some((f) => f.configMapRef) || (c.env ?? []).some((e) => e.valueFrom?.configMapKeyRef))
        problems.push(`${c.name} reads a ConfigMap, which the selective apply does not create`);
    return problems;
  },

  "the Strimzi example matches the services' Kafka configuration and the Secrets they read": (m) => {
    const problems: string[] = [];
    const common = configMap(m, 'audit-platform-common')?.data ?? {};
    const [kafka] = ofKind<{ metadata: { name: string }; spec: { kafka: Record<string, unknown> } }>(
      m.operators,
      'Kafka',
    );
    const [pool] = ofKind<{ spec: { replicas: number; roles: string[] } }>(m.operators, 'KafkaNodePool');
    const [user] = ofKind<{
      metadata: { name: string };
      spec: {
        authentication: { type: string };
        authorization: {
          acls: Array<{ resource: { type: string; name: string; patternType: string }; operations: string[] }>;
        };
      };
    }>(m.operators, 'KafkaUser');
    const topics = ofKind<{
      metadata: { name: string };
      spec: { partitions: number; replicas: number; topicName?: string };
    }>(m.operators, 'KafkaTopic');
    if (!kafka || !pool || !user) return ['the Strimzi example lacks its Kafka, KafkaNodePool or KafkaUser'];
    const spec = kafka.spec['kafka'] as {
      listeners: Array<{ port: number; tls: boolean; authentication?: { type: string } }>;
      config: Record<string, unknown>;
    };
    if (pool.spec.replicas !== 3 || !['controller', 'broker'].every((r) => pool.spec.roles.includes(r)))
      problems.push('the node pool is not 3 KRaft nodes that are controllers and brokers');
    if (spec.config['default.replication.factor'] !== 3 || spec.config['min.insync.replicas'] !== 2)
      problems.push('default.replication.factor is not 3 or min.insync.replicas not 2');
    const [host, port] = (common['KAFKA_BROKERS'] ?? '').split(':');
    const listener = spec.listeners.find((l) => l.port === Number(port));
    if (host !== `${kafka.metadata.name}-kafka-bootstrap` || !listener)
      problems.push(`KAFKA_BROKERS ${common['KAFKA_BROKERS']} is not a listener of ${kafka.metadata.name}`);
    if (listener && (!listener.tls || listener.authentication?.type !== common['KAFKA_SASL_MECHANISM']))
      problems.push(`the listener is not TLS with ${common['KAFKA_SASL_MECHANISM']}`);
    if (
      user.metadata.name !== common['KAFKA_SASL_USERNAME'] ||
      user.spec.authentication.type !== common['KAFKA_SASL_MECHANISM']
    )
      problems.push(`KafkaUser ${user.metadata.name} is not KAFKA_SASL_USERNAME with KAFKA_SASL_MECHANISM`);
    const topic = common['KAFKA_TOPIC'] ?? 'domain-events';
    const partitions = Number(common['KAFKA_TOPIC_PARTITIONS']);
    for (const [name, count] of [
      [topic, partitions],
      [`${topic}.dlq`, 1],
    ] as const) {
      const found = topics.find((t) => (t.spec.topicName ?? t.metadata.name) === name);
      if (found?.spec.partitions !== count || found.spec.replicas !== 3)
        problems.push(`KafkaTopic ${name} is not ${count} partitions on 3 replicas`);
    }
    const grants = (type: string, name: string, operation: string) =>
      user.spec.authorization.acls.some(
        (acl) =>
          acl.resource.type === type &&
          (acl.resource.patternType === 'prefix' ? name.startsWith(acl.resource.name) : name === acl.resource.name) &&
          acl.operations.includes(operation),
      );
    for (const name of [topic, `${topic}.dlq`])
      for (const operation of ['Describe', 'Read', 'Write', 'Create'])
        if (!grants('topic', name, operation)) problems.push(`KafkaUser may not ${operation} topic ${name}`);
    for (const group of [
      AuditRecorderConfigSchema.shape.KAFKA_GROUP_ID.parse(undefined),
      AuditStreamerConfigSchema.shape.KAFKA_GROUP_ID.parse(undefined),
    ])
      if (!grants('group', group, 'Read')) problems.push(`KafkaUser may not Read group ${group}`);
    // The Secrets Strimzi writes are the ones kafka-secrets.example.yaml stands in for, with the same keys.
    const generated = [
      { name: user.metadata.name, key: 'password' },
      { name: `${kafka.metadata.name}-cluster-ca-cert`, key: 'ca.crt' },
    ];
    const standIns = m.examples
      .filter((e) => e.file === 'kafka-secrets.example.yaml')
      .map((e) => e.object.metadata.name);
    if (JSON.stringify(standIns.sort()) !== JSON.stringify(generated.map((g) => g.name).sort()))
      problems.push(`kafka-secrets.example.yaml has ${standIns}, Strimzi writes ${generated.map((g) => g.name)}`);
    for (const { name, key } of generated)
      if (!secretKeys(m, name)?.has(key)) problems.push(`Secret ${name} has no ${key}`);
    return problems;
  },

  'the CloudNativePG example is the database the URLs name, three instances with synchronous commits': (m) => {
    const [cluster] = ofKind<{
      metadata: { name: string };
      spec: { instances: number; enableSuperuserAccess?: boolean; postgresql?: { synchronous?: { number: number } } };
    }>(m.operators, 'Cluster');
    if (!cluster) return ['no CloudNativePG Cluster'];
    const problems: string[] = [];
    if (cluster.spec.instances !== 3) problems.push(`instances ${cluster.spec.instances}`);
    if ((cluster.spec.postgresql?.synchronous?.number ?? 0) < 1) problems.push('commits do not wait for a standby');
    if (cluster.spec.enableSuperuserAccess !== true) problems.push('no superuser for db-setup');
    const urls = [...(secretKeys(m, 'audit-database') ?? []), ...(secretKeys(m, 'audit-database-admin') ?? [])];
    for (const [key, url] of urls) {
      if (new URL(url).hostname !== `${cluster.metadata.name}-rw`)
        problems.push(`${key} is not on ${cluster.metadata.name}-rw`);
    }
    for (const name of SERVICE_NAMES) {
      const role = name.replace('-', '_');
      const keys = secretKeys(m, 'audit-database');
      const user = (key: string) =>
        decodeURIComponent(new URL(keys?.get(`${SERVICES[name].prefix}_${key}`) ?? 'x://').username);
      if (user('DATABASE_URL') !== role || user('DATABASE_MIGRATION_URL') !== `${role}_owner`)
        problems.push(`${name}'s URLs are not its roles ${role} and ${role}_owner`);
    }
    return problems;
  },
};

// ---- tests ------------------------------------------------------------------------------------------------

describe('deploy/k8s', () => {
  const manifests = loadManifests();

  it('parses every YAML document, and finds the platform in it', () => {
    expect(manifests.base.map(({ object }) => `${object.kind}/${object.metadata.name}`)).toEqual(
      expect.arrayContaining([
        'Namespace/audit-platform',
        'Job/audit-db-migrate',
        ...SERVICE_NAMES.flatMap((n) => [`Deployment/${n}`, `Service/${n}`, `PodDisruptionBudget/${n}`]),
      ]),
    );
    expect(manifests.operators.length).toBeGreaterThanOrEqual(6);
    expect(manifests.examples.length).toBeGreaterThanOrEqual(5);
  });

  it.each(Object.keys(CHECKS))('%s', (name) => {
    expect(CHECKS[name](manifests)).toEqual([]);
  });

  type Mutation = [label: string, check: string, mutate: (m: Manifests) => void, problem: string];
  const find = (m: Manifests, kind: string, name: string) =>
    [...m.base, ...m.operators, ...m.examples].find((l) => l.object.kind === kind && l.object.metadata.name === name)
      ?.object as unknown as Record<string, Record<string, object>>;
  const pod = (m: Manifests, name: string) =>
    (find(m, 'Deployment', name) as unknown as IDeployment).spec!.template.spec!;
  const main = (m: Manifests, name: string) => pod(m, name).containers[0];
  const mountOf = (m: Manifests, name: string, volume: string) =>
    main(m, name).volumeMounts!.find((v) => v.name === volume)!;
  const check = (fragment: string) => Object.keys(CHECKS).find((k) => k.includes(fragment)) as string;
  const MUTATIONS: Mutation[] = [
    [
      'a port that is not a number',
      check('Kubernetes API'),
      (m) => Object.assign(main(m, 'release-service').ports![0], { containerPort: 'http' }),
      'must be integer',
    ],
    [
      'a misspelt field',
      check('Kubernetes API'),
      (m) => Object.assign(main(m, 'audit-recorder'), { readinessprobe: {} }),
      'unknown field /spec/template/spec/containers/0/readinessprobe',
    ],
    [
      'an unknown kind',
      check('Kubernetes API'),
      (m) => m.base.push({ file: 'x.yaml', object: { apiVersion: 'v1', kind: 'Pod', metadata: { name: 'x' } } }),
      'no Kubernetes schema',
    ],
    [
      'a topic with partitions as text',
      check('custom resource'),
      (m) => Object.assign(find(m, 'KafkaTopic', 'domain-events')['spec'], { partitions: 'twelve' }),
      'must be integer',
    ],
    [
      'a misspelt CRD field',
      check('custom resource'),
      (m) => Object.assign(find(m, 'Cluster', 'audit-postgres')['spec'], { instance: 3 }),
      'additionalProperty',
    ],
    [
      'a manifest left out of the kustomization',
      check('kustomization'),
      (m) => {
        const resources = m.kustomizations.find((k) => k.dir === '.')!.doc.resources!;
        resources.splice(resources.indexOf('audit-streamer.yaml'), 1);
      },
      'audit-streamer.yaml is not listed',
    ],
    [
      'an example applied by the kustomization',
      check('kustomization'),
      (m) => m.kustomizations.find((k) => k.dir === '.')!.doc.resources!.push('secrets.example.yaml'),
      'applies the example',
    ],
    [
      'an image without a tag',
      check('kustomization'),
      (m) => m.kustomizations.find((k) => k.dir === '.')!.doc.images!.pop(),
      'has no newName/newTag',
    ],
    [
      'an object in another namespace',
      check('named once'),
      (m) => Object.assign(find(m, 'Service', 'audit-recorder')['metadata'], { namespace: 'default' }),
      'not audit-platform',
    ],
    [
      'one replica',
      check('runs its replicas'),
      (m) => Object.assign((find(m, 'Deployment', 'audit-streamer') as unknown as IDeployment).spec!, { replicas: 2 }),
      'replicas 2 < 3',
    ],
    [
      'readiness on /health',
      check('runs its replicas'),
      (m) => Object.assign(main(m, 'release-service').readinessProbe!.httpGet!, { path: '/health' }),
      'readiness probe is not GET /ready',
    ],
    [
      'liveness on another port',
      check('runs its replicas'),
      (m) => Object.assign(main(m, 'audit-recorder').livenessProbe!.httpGet!, { port: 9000 }),
      'liveness probe is not on PORT',
    ],
    [
      'PORT beside the container port',
      check('runs its replicas'),
      (m) => Object.assign(find(m, 'ConfigMap', 'audit-streamer')['data'], { PORT: '3004' }),
      'port http 3003, PORT 3004',
    ],
    [
      'no memory limit',
      check('runs its replicas'),
      (m) => delete main(m, 'audit-streamer').resources!.limits!['memory'],
      'no limits.memory',
    ],
    [
      'a grace period below the shutdown',
      check('runs its replicas'),
      (m) => Object.assign(pod(m, 'audit-recorder'), { terminationGracePeriodSeconds: 30 }),
      'terminationGracePeriodSeconds 30 s',
    ],
    [
      'INSTANCE_NAME not from the pod',
      check('runs its replicas'),
      (m) => main(m, 'release-service').env!.splice(0, 1, { name: 'INSTANCE_NAME', value: 'fixed' }),
      'INSTANCE_NAME is not the pod name',
    ],
    [
      '3 partitions',
      check('runs its replicas'),
      (m) => Object.assign(find(m, 'ConfigMap', 'audit-platform-common')['data'], { KAFKA_TOPIC_PARTITIONS: '3' }),
      'KAFKA_TOPIC_PARTITIONS 3',
    ],
    [
      'a writable root filesystem',
      check('restricted'),
      (m) => Object.assign(main(m, 'audit-streamer').securityContext!, { readOnlyRootFilesystem: false }),
      'readOnlyRootFilesystem',
    ],
    [
      'root',
      check('restricted'),
      (m) =>
        Object.assign((find(m, 'Job', 'audit-db-migrate') as unknown as IJob).spec!.template.spec!.securityContext!, {
          runAsUser: 0,
        }),
      'runAsUser',
    ],
    [
      'a PDB selecting nothing',
      check('selectors'),
      (m) =>
        Object.assign(find(m, 'PodDisruptionBudget', 'audit-recorder')['spec'], {
          selector: { matchLabels: { app: 'recorder' } },
        }),
      'PodDisruptionBudget/audit-recorder selects []',
    ],
    [
      'a Service selecting every service',
      check('selectors'),
      (m) =>
        Object.assign(find(m, 'Service', 'release-service')['spec'], {
          selector: { 'app.kubernetes.io/part-of': 'audit-events-platform' },
        }),
      'Service/release-service selects',
    ],
    [
      'a template without the selected label',
      check('selectors'),
      (m) =>
        delete (find(m, 'Deployment', 'audit-streamer') as unknown as IDeployment).spec!.template.metadata!.labels![
          'app.kubernetes.io/name'
        ],
      'selector does not match its template',
    ],
    [
      'a Service on the wrong port',
      check('selectors'),
      (m) =>
        Object.assign((find(m, 'Service', 'audit-streamer') as unknown as IService).spec!.ports![0], {
          targetPort: 8080,
        }),
      'targetPort 8080',
    ],
    [
      'a variable no service reads',
      check('variable a container sets'),
      (m) => main(m, 'audit-recorder').env!.push({ name: 'KAFKA_TOPICS', value: 'x' }),
      'KAFKA_TOPICS is not a variable of service audit-recorder',
    ],
    [
      "the streamer's key given to release-service",
      check('variable a container sets'),
      (m) => main(m, 'release-service').env!.push({ name: 'ENCRYPTION_KEY', value: 'x' }),
      'ENCRYPTION_KEY is not a variable of service release-service',
    ],
    [
      'a CA file outside the mounted Secret',
      check('variable a container sets'),
      (m) =>
        Object.assign(find(m, 'ConfigMap', 'audit-platform-common')['data'], { KAFKA_SSL_CA_FILE: '/etc/ssl/ca.crt' }),
      'KAFKA_SSL_CA_FILE=/etc/ssl/ca.crt is not a key',
    ],
    [
      'the JSON log on the read-only filesystem',
      check('variable a container sets'),
      (m) => Object.assign(find(m, 'ConfigMap', 'audit-recorder')['data'], { AUDIT_LOG_FILE: 'log/audit_json.log' }),
      'is on the read-only root filesystem',
    ],
    [
      'the signing key taken from the image',
      check('variable a container sets'),
      (m) =>
        Object.assign(find(m, 'ConfigMap', 'audit-recorder')['data'], {
          AUDIT_SIGNING_KEY_FILE: '/app/config/audit_signing/development-ed25519.pem',
        }),
      'AUDIT_SIGNING_KEY_FILE=/app/config/audit_signing/development-ed25519.pem is not a key of a mounted Secret',
    ],
    [
      'a file variable on a writable mount',
      check('variable a container sets'),
      (m) => Object.assign(mountOf(m, 'audit-recorder', 'kafka-ca'), { readOnly: false }),
      'KAFKA_SSL_CA_FILE is on a mount that is not read-only',
    ],
    [
      'no signing key',
      check('signing key'),
      (m) => delete find(m, 'ConfigMap', 'audit-recorder')['data']['AUDIT_SIGNING_KEY_FILE'],
      'AUDIT_SIGNING_KEY_FILE is not set',
    ],
    [
      'a signing key mounted writable',
      check('signing key'),
      (m) => Object.assign(mountOf(m, 'audit-recorder', 'signing-key'), { readOnly: false }),
      "the signing key's mount",
    ],
    [
      'the signing key given to the streamer',
      check('signing key'),
      (m) =>
        pod(m, 'audit-streamer').volumes!.push({ name: 'signing-key', secret: { secretName: 'audit-signing-key' } }),
      'Deployment/audit-streamer reads the Secret audit-signing-key',
    ],
    [
      'a value the loader refuses',
      check('own loader'),
      (m) => Object.assign(find(m, 'ConfigMap', 'audit-platform-common')['data'], { KAFKA_TOPIC_PARTITIONS: '0' }),
      'KAFKA_TOPIC_PARTITIONS',
    ],
    [
      'a usable example key',
      check('own loader'),
      (m) =>
        Object.assign(find(m, 'Secret', 'audit-platform-secrets')['stringData'], { ENCRYPTION_KEY: 'ab'.repeat(32) }),
      'the example value of ENCRYPTION_KEY does not stop the service',
    ],
    [
      'a usable example signing key',
      check('own loader'),
      (m) => Object.assign(find(m, 'Secret', 'audit-signing-key')['stringData'], { 'signing-key.pem': ed25519Pem() }),
      'the example value of AUDIT_SIGNING_KEY_FILE does not stop the service',
    ],
    [
      'a secret key that does not exist',
      check('Secret and ConfigMap'),
      (m) =>
        Object.assign(
          main(m, 'audit-streamer').env!.find((e) => e.name === 'ENCRYPTION_KEY')!.valueFrom!.secretKeyRef!,
          { key: 'ENCRYPTION_KEYS' },
        ),
      'Secret audit-platform-secrets has no key ENCRYPTION_KEYS',
    ],
    [
      'a ConfigMap that does not exist',
      check('Secret and ConfigMap'),
      (m) => Object.assign(main(m, 'audit-recorder').envFrom![1].configMapRef!, { name: 'recorder' }),
      'no ConfigMap recorder',
    ],
    [
      'a mounted key that does not exist',
      check('Secret and ConfigMap'),
      (m) => Object.assign(pod(m, 'release-service').volumes![0].secret!.items![0], { key: 'ca.pem' }),
      'has no key ca.pem',
    ],
    [
      'a service migrated by another image',
      check('migration Job'),
      (m) =>
        Object.assign((find(m, 'Job', 'audit-db-migrate') as unknown as IJob).spec!.template.spec!.containers[2], {
          image: 'audit-events-platform/audit-recorder',
        }),
      'audit-streamer is migrated by image',
    ],
    [
      'no db-setup',
      check('migration Job'),
      (m) => delete (find(m, 'Job', 'audit-db-migrate') as unknown as IJob).spec!.template.spec!.initContainers,
      'the init container is not db-setup',
    ],
    [
      'a topic of 6 partitions',
      check('Strimzi'),
      (m) => Object.assign(find(m, 'KafkaTopic', 'domain-events')['spec'], { partitions: 6 }),
      'KafkaTopic domain-events is not 12 partitions',
    ],
    [
      'another user name',
      check('Strimzi'),
      (m) => Object.assign(find(m, 'ConfigMap', 'audit-platform-common')['data'], { KAFKA_SASL_USERNAME: 'audit' }),
      'is not KAFKA_SASL_USERNAME',
    ],
    [
      'a listener without SCRAM',
      check('Strimzi'),
      (m) =>
        delete (find(m, 'Kafka', 'audit-kafka')['spec']['kafka'] as { listeners: Array<{ authentication?: unknown }> })
          .listeners[0].authentication,
      'the listener is not TLS with scram-sha-512',
    ],
    [
      'no Read on a consumer group',
      check('Strimzi'),
      (m) => (find(m, 'KafkaUser', 'audit-services')['spec']['authorization'] as { acls: unknown[] }).acls.pop(),
      'may not Read group audit-streamer',
    ],
    [
      'one PostgreSQL instance',
      check('CloudNativePG'),
      (m) => Object.assign(find(m, 'Cluster', 'audit-postgres')['spec'], { instances: 1 }),
      'instances 1',
    ],
    [
      'a URL on another host',
      check('CloudNativePG'),
      (m) =>
        Object.assign(find(m, 'Secret', 'audit-database')['stringData'], {
          AUDIT_RECORDER_DATABASE_URL: 'postgres://audit_recorder:x@postgres:5432/postgres',
        }),
      'AUDIT_RECORDER_DATABASE_URL is not on audit-postgres-rw',
    ],
  ];

  it.each(MUTATIONS)('finds %s', (_label, name, mutate, problem) => {
    const broken = structuredClone(manifests);
    mutate(broken);
    expect(name).toBeDefined();
    expect(CHECKS[name](broken)).toEqual(expect.arrayContaining([expect.stringContaining(problem)]));
  });
});
