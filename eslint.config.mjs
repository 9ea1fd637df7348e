// Lint rules. The workflows/ override is the determinism boundary: workflow code runs in
// Temporal's sandbox and is replayed, so it may not reach Node built-ins or the SDK's I/O packages.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';
import { builtinModules } from 'node:module';

const nodeBuiltins = [...builtinModules, ...builtinModules.map((m) => `node:${m}`)];

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', '.data/', 'test/histories/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({ name, message: 'workflow code must be deterministic: do I/O in an activity' })),
          patterns: [
            {
              group: [
                '@temporalio/client',
                '@temporalio/client/*',
                '@temporalio/worker',
                '@temporalio/worker/*',
                '@temporalio/activity',
                '@temporalio/activity/*',
              ],
              message: 'workflows import only @temporalio/workflow (and type-only imports)',
              allowTypeImports: true,
            },
            {
              group: ['pg', 'kysely', '@electric-sql/*', 'pino', 'koa', '@koa/*'],
              message: 'no I/O libraries in workflow code',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // Issue 14: a file a reader can hold in their head. Past this, split it along what it does.
    files: ['src/**/*.ts', 'workflows/**/*.ts', 'activities/**/*.ts'],
    rules: { 'max-lines': ['error', { max: 300 }] },
  },
);
