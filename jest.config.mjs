// Two projects: `unit` (pure logic, plain data, no API server) and `integration` (a real garden API:
// etcd + kube-apiserver + gardener-apiserver, started once per run by the global setup).
/** @type {import('ts-jest').TsJestTransformerOptions} */
const tsJest = { useESM: true, tsconfig: 'tsconfig.json', diagnostics: { ignoreCodes: ['TS151001'] } };

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', tsJest] },
  testEnvironment: 'node',
};

/** @type {import('jest').Config} */
export default {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'integration',
      testMatch: ['<rootDir>/test/integration/**/*.test.ts'],
      globalSetup: '<rootDir>/test/jest/global-setup.mjs',
      globalTeardown: '<rootDir>/test/jest/global-teardown.mjs',
      slowTestThreshold: 30,
    },
  ],
  testTimeout: 120_000,
};
