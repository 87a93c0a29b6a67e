import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

import { defaultPayloadConverter } from '@temporalio/common';
import { historyFromJSON } from '@temporalio/common/lib/proto-utils.js';
import { Worker } from '@temporalio/worker';

import { workflowBundle } from './support/stack.js';

/**
 * Replays recorded histories (`npm run record-histories -- <name>`) against today's workflow
 * code: a failure means a change would break runs already in flight. The top folder holds the
 * runs recorded before committed persistence; each subfolder, those recorded after a patch;
 * `tracing-on/`, runs recorded with tracing on (`-- <name> --tracing`). Every history replays both
 * without and with the tracing interceptors in the bundle: switching tracing on or off
 * (docs/tracing.md) never breaks a run in flight.
 */
const DIR = fileURLToPath(new URL('../../test/fixtures/histories/', import.meta.url));
const files = readdirSync(DIR, { recursive: true, encoding: 'utf8' }).filter((file) => file.endsWith('.json'));

it('has recorded histories to replay: from before and after persisting from committed history, of format 2, and of the gate’s hardening', () => {
  expect(files.filter((file) => !file.includes('/')).length).toBeGreaterThanOrEqual(9);
  expect(files.filter((file) => file.startsWith('persist-from-committed-history/')).length).toBeGreaterThanOrEqual(9);
  expect(files.filter((file) => file.startsWith('run-format-2/')).length).toBeGreaterThanOrEqual(13);
  // The gate's hardening: each of its four patch markers on the path that records it.
  expect(files.filter((file) => file.startsWith('gate-hardening/gate-')).length).toBeGreaterThanOrEqual(8);
  // Traced runs, every path: their workflow tasks carry the trace in Temporal headers.
  const traced = files.filter((file) => file.startsWith('tracing-on/'));
  expect(traced.length).toBeGreaterThanOrEqual(20);
  for (const file of traced) expect(readFileSync(`${DIR}${file}`, 'utf8')).toContain('_tracer-data');
});

/** The values a history's upserts gave `PlanRunStatus`, in order. */
function statusUpserts(file: string): string[] {
  const history = historyFromJSON(JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')));
  return (history.events ?? []).flatMap((event) => {
    const payload = event.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.PlanRunStatus;
    return payload ? [defaultPayloadConverter.fromPayload<string>(payload as never)] : [];
  });
}

it('has runs of format 4, whose status ends at completed; runs of format 3 left it at running', () => {
  expect(files.filter((file) => file.startsWith('run-format-4/')).length).toBeGreaterThanOrEqual(24);
  const path = 'executed-agent-human-wait-optional-webhook.json';
  expect(statusUpserts(`run-format-4/${path}`).at(-1)).toBe('completed');
  expect(statusUpserts(`what-you-approved/${path}`)).not.toContain('completed');
});

it.each(files)('replays %s deterministically', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')));
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle() }, history, file);
});

it.each(files)('replays %s deterministically with the tracing interceptors', async (file) => {
  const history = historyFromJSON(JSON.parse(readFileSync(`${DIR}${file}`, 'utf8')));
  // The workflow spans' sink, as a tracing worker has it (never called while replaying).
  const sinks = { exporter: { export: { fn: () => {} } } };
  await Worker.runReplayHistory({ workflowBundle: await workflowBundle({ tracing: true }), sinks }, history, file);
});
