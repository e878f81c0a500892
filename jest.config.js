// @ts-check
const { readFileSync } = require('node:fs');

/*
 * Three tiers by suffix (docs/architecture.md): `*.spec.ts` unit (pure, no I/O), `*.int.spec.ts` against the real
 * PostgreSQL and Kafka, `e2e/**\/*.e2e.spec.ts` against the three services started as processes.
 * SWC transpiles (decorator metadata included); `npm run typecheck` is the type check.
 */
const { compilerOptions } = JSON.parse(readFileSync(`${__dirname}/tsconfig.base.json`, 'utf8'));
const moduleNameMapper = Object.fromEntries(
  Object.entries(compilerOptions.paths).map(([alias, targets]) => [
    `^${alias}$`,
    `<rootDir>/${/** @type {string[]} */ (targets)[0]}`,
  ]),
);
const swc = JSON.parse(readFileSync(`${__dirname}/.swcrc`, 'utf8'));
const base = {
  rootDir: __dirname,
  testEnvironment: 'node',
  moduleNameMapper,
  transform: { '^.+\\.ts$': ['@swc/jest', { ...swc, swcrc: false }] },
  testPathIgnorePatterns: ['/node_modules/', '/dist/'],
};

/** @type {import('jest').Config} */
const config = {
  projects: [
    {
      ...base,
      displayName: 'unit',
      testMatch: ['<rootDir>/**/*.spec.ts'],
      testPathIgnorePatterns: [
        ...base.testPathIgnorePatterns,
        '\\.int\\.spec\\.ts$',
        '\\.e2e\\.spec\\.ts$',
        '\\.faults\\.spec\\.ts$',
      ],
    },
    { ...base, displayName: 'integration', testMatch: ['<rootDir>/**/*.int.spec.ts'], slowTestThreshold: 30 },
    { ...base, displayName: 'e2e', testMatch: ['<rootDir>/e2e/**/*.e2e.spec.ts'], slowTestThreshold: 60 },
    // `npm run test:faults`: the real services as processes under injected faults (faults/README.md).
    {
      ...base,
      displayName: 'faults',
      testMatch: ['<rootDir>/faults/**/*.faults.spec.ts'],
      slowTestThreshold: 120,
      globalSetup: '<rootDir>/faults/support/global-setup.ts',
      globalTeardown: '<rootDir>/faults/support/global-teardown.ts',
    },
  ],
};

module.exports = config;
