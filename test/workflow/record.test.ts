import { approvePlanUpdate, completeNodeUpdate, planQuery, recordQuery } from '../../workflows/messages.js';
import { diamondDraft } from '../support/drafts.js';
import { type WorkflowTier, from, runInput, startWorkflowTier } from './harness.js';

/** What the workflow hands to storage is what it says it committed (I1), and a run's outputs travel as they should. */

let tier: WorkflowTier;
beforeAll(async () => {
  tier = await startWorkflowTier();
});
afterAll(async () => {
  await tier?.stop();
});

it("the stored transitions are the workflow's own record, transition by transition", async () => {
  const input = runInput({ draft: diamondDraft() });
  tier.stub.know(input.organizationId, 'alice', 'bob');
  tier.stub.answer('echo', { said: 'hello' });
  const handle = await tier.start(input);
  await handle.executeUpdate(approvePlanUpdate, { args: [from(input, 'bob')] });
  // The diamond's person step waits for alice; once she completes it, the join runs and the run ends.
  const waiting = async () => (await handle.query(planQuery)).nodes.find((node) => node.nodeId === 'right')?.status;
  for (let tries = 0; (await waiting()) !== 'awaiting-human'; tries++) {
    if (tries > 200) throw new Error('node "right" never waited for a person');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await handle.executeUpdate(completeNodeUpdate, { args: [{ ...from(input, 'alice'), nodeId: 'right', output: 'looks good' }] });
  expect((await handle.result()).status).toBe('completed');

  const record = await handle.query(recordQuery, { from: 1 });
  expect(record.persisted).toBe(true);
  expect(record.creation).toEqual(tier.stub.creation(input.runId!));
  expect(record.firstSequence).toBe(1);
  expect(tier.stub.transitions(input.runId!)).toEqual(record.transitions);
  expect(record.transitions.map((transition) => transition.sequence)).toEqual(record.transitions.map((_, index) => index + 1));
  expect(record.lastSequence).toBe(record.transitions.length);

  // The agent's output is referred to by id; the person's travels through the workflow.
  const nodes = new Map(record.nodes.map((node) => [node.nodeId, node]));
  expect(nodes.get('start')!.artifactIds).toEqual([`${input.runId}:start:1`]);
  const handedIn = record.transitions.flatMap((transition) => transition.artifacts ?? []);
  expect(handedIn).toMatchObject([{ nodeId: 'right', content: 'looks good', createdBy: 'alice' }]);
});
