import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/**
 * The layering, as rules (docs/DESIGN.md, workflows/ARCHITECTURE.md):
 * - domain/ decides and does no I/O: no storage, network, process or Temporal client;
 * - workflows/ run in Temporal's sandbox: no zod, and nothing of storage/, client/, api/, app/
 *   (the workflow bundle's own test also checks no zod arrives through domain/);
 * - nothing below app/ imports app/, which assembles the stack;
 * - routes get their types from api/types.ts, never from the server that registers them.
 */
const io = [
  'node:fs',
  'node:fs/promises',
  'node:net',
  'node:http',
  'node:https',
  'node:dns',
  'node:child_process',
  'node:os',
  'surrealdb',
  '@surrealdb/node',
];
const layer = (folder) => [`../${folder}/*`, `../../${folder}/*`];
const belowApp = { group: layer('app'), message: 'app/ assembles the stack: nothing below it imports it.' };

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'inbox/index.html', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  // The few plain scripts run on Node.
  { files: ['**/*.js'], languageOptions: { globals: { process: 'readonly', URL: 'readonly', console: 'readonly' } } },
  {
    rules: {
      // Unused names fail the build already (tsc noUnused*); `_x` marks one kept on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // The tests narrow with `!` after asserting; the source keeps them rare.
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  // One no-restricted-imports per folder (a later entry for the same file would replace it, not add to it).
  ...Object.entries({
    domain: {
      paths: io.map((name) => ({ name, message: 'domain/ does no I/O: decide here, act in activities/, storage/ or client/.' })),
      patterns: [
        { group: ['@temporalio/client', '@temporalio/worker', '@temporalio/activity'], message: 'domain/ does not talk to Temporal.' },
        { group: ['storage', 'client', 'api', 'app', 'activities', 'workflows'].flatMap(layer), message: 'domain/ imports only domain/.' },
      ],
    },
    workflows: {
      paths: [{ name: 'zod', message: 'The workflow sandbox loads every module anew per run: no zod (domain/decisions.ts says why).' }],
      patterns: [
        {
          group: ['storage', 'client', 'api', 'app', 'tracing'].flatMap(layer),
          message: 'workflows/ import domain/ and activity types only.',
        },
      ],
    },
    // The page's script is loaded by the browser as it is compiled: no bundler, so no imports.
    inbox: { patterns: [{ group: ['*'], message: 'inbox/inbox.ts stays self-contained: the browser loads it without a bundler.' }] },
    'api/routes': { patterns: [belowApp, { group: ['../server.js'], message: 'Routes take their types from api/types.ts.' }] },
    ...Object.fromEntries(
      ['activities', 'agents', 'api', 'audit', 'auth', 'client', 'mcp', 'metrics', 'storage', 'temporal', 'tools', 'tracing', 'worker'].map(
        (folder) => [folder, { patterns: [belowApp] }],
      ),
    ),
  }).map(([folder, restrictions]) => ({
    files: folder === 'api' ? ['api/*.ts'] : [`${folder}/**/*.ts`],
    rules: { 'no-restricted-imports': ['error', restrictions] },
  })),
);
