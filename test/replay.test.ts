import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';

import { workflowBundle } from './support/stack.js';

/**
 * Replays recorded histories (`npm run record-histories -- <name>`) against today's workflow
 * code: a failure means a change would break runs already in flight. The top folder holds the
 * runs recorded before committed persistence; each subfolder, those recorded after a patch.
 */
const DIR = fileURLToPath(new URL('../../test/fixtures/histories/', import.meta.url));
const files = readdirSync(DIR, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.json'));

it('has recorded histories to replay: from before and after persisting from committed history, of format 2, and of the gate’s hardening', () => {
  expect(files.filter((file) => !file.includes('/')).length).toBeGreaterThanOrEqual(9);
  expect(files.filter((file) => file.startsWith('persist-from-committed-history/')).length).toBeGreaterThanOrEqual(9);
  expect(files.filter((file) => file.startsWith('run-format-2/')).length).toBeGreaterThanOrEqual(13);
  // The gate's hardening: each of its four patch markers on the path that records it.
  expect(files.filter((file) => file.startsWith('gate-hardening/gate-')).length).toBeGreaterThanOrEqual(8);
});

it.each(files)('replays %s deterministically', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
});
