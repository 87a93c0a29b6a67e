import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';

import type { Stack } from '../../app/stack.js';
import { findTemporalBinary } from '../../temporal/dev-server.js';
import { humanFirstDraft } from '../support/drafts.js';
import { eventually, startTestStack, temporalAddress } from '../support/stack.js';
import { castIn } from '../support/principals.js';

/**
 * What an operator sees in the Temporal Web UI, checked through the `temporal` CLI that reads
 * the same APIs: the title as summary, objective and nodes as details, status and who must act
 * as current details, and the visibility queries docs/operating.md lists.
 */
const run = promisify(execFile);
let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

/** A `temporal` command killed, and failed naming it, if it has not exited within this long. */
const TEMPORAL_CLI_MS = 15_000;

async function temporal(...args: string[]): Promise<string> {
  const started = Date.now();
  try {
    const { stdout } = await run(findTemporalBinary(), [...args, '--address', temporalAddress()], { timeout: TEMPORAL_CLI_MS });
    return stdout;
  } catch (error) {
    if ((error as { killed?: boolean }).killed && Date.now() - started >= TEMPORAL_CLI_MS) {
      throw new Error(`temporal ${args.join(' ')} to exit: not within ${TEMPORAL_CLI_MS / 1000} s`, { cause: error });
    }
    throw error;
  }
}

it('a run explains itself: summary, details, and who must act now', async () => {
  const organizationId = `org-${randomUUID()}`;
  await castIn(stack, organizationId);
  const source = `t-${randomUUID()}`;
  const plan = await stack.plans.runs.create({
    organizationId,
    threadId: 't-1',
    sourceThreadId: source,
    leadAgentId: 'planner',
    draft: humanFirstDraft(),
  });

  const summary = await temporal('workflow', 'describe', '--workflow-id', plan.workflowId);
  expect(summary).toContain('Review first');
  expect(summary).toContain('**Objective:** A person reviews, then the system publishes.');
  expect(summary).toContain('**review** Review — human');
  const pending = await temporal('workflow', 'metadata', '--workflow-id', plan.workflowId);
  expect(pending).toContain('**Status:** pending-approval');
  expect(pending).toMatch(/approvePlan\s+Approve a pending run/);
  expect(pending).toContain(`Waiting for a person in thread t-1 or its source thread ${source} to approve or reject.`);

  const listed = await eventually(
    `temporal workflow list to show run ${plan.runId} as pending-approval from source thread ${source}`,
    async () => {
      const out = await temporal('workflow', 'list', '--query', `PlanRunStatus='pending-approval' AND SourceThreadId='${source}'`);
      return out.includes(plan.workflowId) ? out : undefined;
    },
  );
  expect(listed).toContain('Running');

  await stack.plans.runs.approve({ runId: plan.runId, organizationId, threadId: source, emittedBy: 'alice' });
  const waiting = await temporal('workflow', 'metadata', '--workflow-id', plan.workflowId);
  expect(waiting).toContain('**Status:** awaiting-human');
  expect(waiting).toContain('Waiting for alice to complete node "Review" (review).');
  await eventually(`temporal workflow list to show run ${plan.runId} as awaiting-human in thread t-1 of planner`, async () => {
    const out = await temporal(
      'workflow',
      'list',
      '--query',
      `PlanRunStatus='awaiting-human' AND ThreadId='t-1' AND LeadAgentId='planner' AND OrganizationId='${organizationId}'`,
    );
    return out.includes(plan.workflowId) ? true : undefined;
  });
  const described = await temporal('workflow', 'describe', '--workflow-id', plan.workflowId);
  expect(described).toContain('PlanRunStatus');
  expect(described).toContain('awaiting-human');
});
