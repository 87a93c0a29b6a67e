import { revisionOf } from '../../client/revision.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { crossThread, diamondDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith } from '../support/principals.js';

/** A run's plan as the draft a person edits (issue 22's ground): it compiles back to the run's very revision, and only within the organization. */

const { stack, call } = apiStackForFile();

it('GET /v1/plans/:runId/draft answers the draft that compiles to the run’s revision; another organization’s run is not found', async () => {
  const org = await organizationWith(stack(), []);
  const draft = { ...diamondDraft(), tags: ['refund'], parameters: { amountEur: 12 }, schedule: { every: '1h' } };
  const run = (await call<PlanSnapshot>(org.planner, 'POST', '/v1/plans', crossThread(draft))).body;
  const answer = await call<{ runId: string; revision: string; draft: unknown }>(org.alice, 'GET', `/v1/plans/${run.runId}/draft`);
  expect(answer.status).toBe(200);
  expect(answer.body).toMatchObject({ runId: run.runId, revision: run.revision });
  expect(revisionOf(compileDraft(answer.body.draft))).toBe(run.revision);

  const other = await organizationWith(stack(), []);
  expect((await call(other.alice, 'GET', `/v1/plans/${run.runId}/draft`)).status).toBe(404);
});
