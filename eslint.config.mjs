import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Layers (issue 18), from the bottom: util/duration → api, gardener → engine (every decision, pure) → kube (I/O with
// the API server) → controller → main.ts (the controller's bundle). Beside them: cli/ (kubectl canary), sim/ (the
// landscape simulator) and demo/ (the local demo, its own bundle). `no-restricted-imports` holds each layer to what it
// may import; test/unit/layers.test.ts proves the rules fire. Patterns are matched against the import specifier.
const IO_MODULES = ['@kubernetes/client-node', 'prom-client', 'node:fs', 'node:fs/promises', 'node:http', 'node:https', 'node:http2', 'node:net', 'node:tls', 'node:dgram', 'node:child_process', 'node:worker_threads', 'node:os', 'node:readline'].map((name) => ({
  name,
  message: 'api/, gardener/ and engine/ are pure: I/O belongs to kube/ or controller/',
}));
const NO_TEST = { group: ['**/test/**'], message: 'src/ never imports test/ (the test garden, fixtures and helpers stay out of what ships)' };
const ABOVE_PURE = { group: ['**/kube/**', '**/controller/**', '**/cli/**', '**/sim/**', '**/demo/**', '**/main.js', '**/start.js'], message: 'api/, gardener/ and engine/ import nothing above them (kube, controller, cli, sim, demo)' };
const NOT_IN_CONTROLLER = { group: ['**/sim/**', '**/demo/**', '**/cli/**', '**/start.js'], message: "the controller's bundle contains neither the simulator, the demo nor the CLI" };
const NOT_IN_CLI = { group: ['**/controller/**', '**/demo/**'], message: 'kubectl canary talks to the API server, never to the controller\'s internals or the demo' };

const layer = (patterns, paths = []) => ({ 'no-restricted-imports': ['error', { paths, patterns }] });

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { process: 'readonly', console: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', setInterval: 'readonly', clearInterval: 'readonly' } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': ['error', { allow: ['error'] }],
    },
  },
  { files: ['src/**/*.ts'], rules: layer([NO_TEST]) },
  { files: ['src/api/**/*.ts', 'src/gardener/**/*.ts', 'src/engine/**/*.ts', 'src/util/duration.ts'], rules: layer([NO_TEST, ABOVE_PURE], IO_MODULES) },
  { files: ['src/main.ts', 'src/controller/**/*.ts', 'src/kube/**/*.ts'], rules: layer([NO_TEST, NOT_IN_CONTROLLER]) },
  { files: ['src/cli/**/*.ts'], rules: layer([NO_TEST, NOT_IN_CLI]) },
  {
    files: ['test/bench/**', 'test/tools/**'],
    rules: {
      'no-console': 'off',
    },
  },
);
