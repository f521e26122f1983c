import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.tmp/**', '**/*.js', '**/*.mjs', '**/*.cjs'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          allowForKnownSafeCalls: [
            {
              from: 'package',
              package: 'node:test',
              name: [
                'test',
                'describe',
                'it',
                'suite',
                'before',
                'after',
                'beforeEach',
                'afterEach',
              ],
            },
          ],
        },
      ],
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/promise-function-async': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
    },
  },
  // Imports point down the layers: the sans-I/O core imports nothing of ours
  // and no runtime module; the WHATWG streams layer imports the core only; the
  // Node layer imports streams and core, never the CLI.
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                '**/streams/*',
                '**/node/*',
                '**/deno/*',
                '**/browser/*',
                '**/cli/*',
                '**/hub/*',
              ],
              message: 'src/core is sans-I/O: it imports only other files of src/core.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/streams/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: [
                'node:*',
                '**/node/*',
                '**/cli/*',
                '../index.js',
                '../server.js',
                '../global.js',
              ],
              message: 'src/streams imports only src/core and itself (no runtime modules).',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/node/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli/*', '../index.js', '../server.js', '../global.js'],
              message: 'src/node imports streams and core, never the CLI or the entry points.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/browser/**/*.ts', 'src/browser.ts', 'src/browser-global.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['node:*', '**/node/*', '**/deno/*', '**/cli/*', './index.js', '../index.js'],
              message: 'The browser build imports streams and core only: no node:* module.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/deno/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/cli/*', '../index.js', '../server.js', '../global.js'],
              message:
                'src/deno imports node, streams and core, never the CLI or the entry points.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['src/cli/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['../*/*', '!../hub/index.js', '!../hub/redis.js'],
              message:
                'The CLI uses the public entry points only, like any user: ../index.js, ../server.js, ../reconnecting.js, ../hub/index.js, ../hub/redis.js.',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['test/**', 'conformance/**', 'bench/**', 'fuzz/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
);
