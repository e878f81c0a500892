// Lint exists mainly to enforce the dependency direction of docs/architecture.md ("Dependency direction"):
//   contracts, kernel                   depend on nothing
//   domain (registry, mapping, chain) ──▶ contracts, kernel, domain
//   platform (nest, sql, outbox, kafka) ──▶ contracts, kernel, platform
//   data (namespaces)               ──▶ contracts, kernel, domain, platform, data
//   apps                            ──▶ all of the above, never another app; testing only in specs and
//                                       *.int-support.ts
//   testing, e2e, faults            ──▶ contracts, kernel, platform (+ testing for the test code)
//   tools                           ──▶ contracts, kernel, domain, platform (audit:verify uses the chain library)
// Scopes: release and audit code depend only on their own scope and shared.
// A domain file (the kernel, contracts, the domain libraries, the apps' *.decider.ts and *.events.ts) may not
// import Nest, an ORM or a database, Kafka or HTTP driver, nor the platform libraries: domain logic is plain
// values, tested without I/O (no-restricted-imports below).
// The project graph (nx.json, pluginsConfig @nx/js) sees spec files too, so platform <-> testing is a cycle
// made only by platform's integration specs using the testing helpers; it is ignored, nothing else is.
import nx from '@nx/eslint-plugin';
import tseslint from 'typescript-eslint';

const boundaries = (forSpecs) => {
  const testing = forSpecs ? ['type:testing'] : [];
  return [
    'error',
    {
      enforceBuildableLibDependency: false,
      allow: [],
      banTransitiveDependencies: false,
      ignoredCircularDependencies: [['tag:type:testing', 'tag:type:platform']],
      // Dynamic import() in Node tests is not lazy loading; do not forbid static imports next to it.
      checkDynamicDependenciesExceptions: ['@audit/testing'],
      depConstraints: [
        { sourceTag: 'type:contracts', onlyDependOnLibsWithTags: [] },
        { sourceTag: 'type:kernel', onlyDependOnLibsWithTags: [] },
        {
          sourceTag: 'type:domain',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:domain', ...testing],
        },
        {
          sourceTag: 'type:platform',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:platform', ...testing],
        },
        {
          sourceTag: 'type:data',
          onlyDependOnLibsWithTags: [
            'type:contracts',
            'type:kernel',
            'type:domain',
            'type:platform',
            'type:data',
            ...testing,
          ],
        },
        {
          sourceTag: 'type:testing',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:platform', 'type:testing'],
        },
        {
          sourceTag: 'type:app',
          onlyDependOnLibsWithTags: [
            'type:contracts',
            'type:kernel',
            'type:domain',
            'type:platform',
            'type:data',
            ...testing,
          ],
        },
        {
          sourceTag: 'type:e2e',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:platform', 'type:testing'],
        },
        {
          sourceTag: 'type:tool',
          onlyDependOnLibsWithTags: ['type:contracts', 'type:kernel', 'type:domain', 'type:platform'],
        },
        { sourceTag: 'scope:release', onlyDependOnLibsWithTags: ['scope:shared', 'scope:release'] },
        { sourceTag: 'scope:audit', onlyDependOnLibsWithTags: ['scope:shared', 'scope:audit'] },
        { sourceTag: 'scope:shared', onlyDependOnLibsWithTags: ['scope:shared'] },
      ],
    },
  ];
};

// What a domain file may not import: frameworks, ORMs, drivers and the platform/testing libraries.
const DOMAIN_FILES = [
  'libs/kernel/**/*.ts',
  'libs/contracts/**/*.ts',
  'libs/audit/mapping/**/*.ts',
  'libs/audit/registry/**/*.ts',
  'libs/audit/chain/**/*.ts',
  'apps/**/*.decider.ts',
  'apps/**/*.events.ts',
];
const NOT_IN_DOMAIN = [
  {
    group: ['@nestjs/*', '@mikro-orm/*'],
    message: 'Domain files are framework-free: no Nest, no ORM (docs/architecture.md, "Dependency direction").',
  },
  {
    group: ['pg', 'pg/*', 'kafkajs', 'kafkajs/*', 'undici', 'undici/*', 'axios', 'axios/*'],
    message:
      'Domain files do no I/O: no database, Kafka or HTTP driver (docs/architecture.md, "Dependency direction").',
  },
  {
    group: ['@audit/platform', '@audit/kafka', '@audit/outbox', '@audit/sql', '@audit/testing'],
    message:
      'Domain files depend only on @audit/contracts, @audit/kernel and the domain libraries (docs/architecture.md, "Dependency direction").',
  },
];

export default [
  { ignores: ['**/node_modules/**', '**/dist/**', 'deploy/kafka-local/**', '**/*.js', '**/*.mjs', '.nx/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    plugins: { '@nx': nx },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        {
          selector: 'CallExpression[callee.object.name=/^(it|describe|test)$/][callee.property.name=/^(only|skip)$/]',
          message: 'No focused or skipped tests.',
        },
      ],
      '@nx/enforce-module-boundaries': boundaries(false),
    },
  },
  // Test code: specs and the apps' integration test helpers (apps/<app>/test/*.int-support.ts).
  {
    files: ['**/*.spec.ts', '**/*.int-support.ts'],
    rules: { '@nx/enforce-module-boundaries': boundaries(true) },
  },
  { files: DOMAIN_FILES, rules: { 'no-restricted-imports': ['error', { patterns: NOT_IN_DOMAIN }] } },
];
