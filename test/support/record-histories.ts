import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';

import { historyToJSON } from '@temporalio/common/lib/proto-utils.js';

import type { Stack } from '../../app/stack.js';
import { compileDraft } from '../../domain/validate.js';
import { loadConfig } from '../../app/config.js';
import { type DevServer, startDevServer } from '../../temporal/dev-server.js';
import { workflowIdOf } from '../../temporal/names.js';
import { approveSignal, completeNodeSignal, rejectSignal, replacePlanUpdate } from '../../workflows/messages.js';
import { diamondDraft, linearDraft } from './drafts.js';
import { freePort } from '../../temporal/free-port.js';
import { castIn } from './principals.js';
import { startTestStack } from './stack.js';

/**
 * Records workflow histories of every lifecycle path into test/fixtures/histories/<name>/, for
 * the replay test: `npm run record-histories -- <name>`, after a change that needs `patched()`
 * (name it after the patch). Earlier recordings are never re-recorded: they are the runs in
 * flight that today's code must still replay. With `--tracing` after the name, the runs are
 * traced (docs/tracing.md; spans go to a receiver that drops them): the histories of runs that
 * were in flight when tracing was switched off.
 */
const name = process.argv[2];
const traced = process.argv[3] === '--tracing';
if (!name || !/^[a-z0-9-]+$/.test(name)) {
  console.error('Usage: npm run record-histories -- <name> [--tracing]   (a new folder under test/fixtures/histories, e.g. the patch id)');
  process.exit(2);
}
const OUT_DIR = fileURLToPath(new URL(`../../../test/fixtures/histories/${name}/`, import.meta.url));
if (existsSync(OUT_DIR)) {
  console.error(`${OUT_DIR} exists: recorded histories are never re-recorded; choose a new name.`);
  process.exit(2);
}

async function record(stack: Stack, name: string, workflowId: string): Promise<void> {
  const history = await stack.client.workflow.getHandle(workflowId).fetchHistory();
  writeFileSync(`${OUT_DIR}${name}.json`, `${historyToJSON(history)}\n`);
  console.log(`recorded ${name} (${history.events?.length ?? 0} events)`);
}

async function waitFor(stack: Stack, runId: string, status: string): Promise<void> {
  for (let tries = 0; tries < 200; tries++) {
    if ((await stack.plans.runs.get(runId)).status === status) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`run ${runId} never reached ${status}`);
}

async function main(): Promise<void> {
  let devServer: DevServer | undefined;
  if (!process.env.TEMPORAL_ADDRESS) {
    devServer = await startDevServer({ binary: loadConfig().temporalBin, port: await freePort(), uiPort: await freePort() });
    process.env.TEMPORAL_ADDRESS = devServer.address;
  }
  // Traced, the spans go to a receiver that answers and drops them.
  const collector = createServer((request, response) => request.resume().on('end', () => response.end('{}')));
  if (traced) await new Promise<void>((resolve) => collector.listen(0, '127.0.0.1', resolve));
  const tracing = traced
    ? {
        endpoint: `http://127.0.0.1:${(collector.address() as AddressInfo).port}/v1/traces`,
        protocol: 'http/json' as const,
        headers: {},
        serviceName: 'record-histories',
        resourceAttributes: {},
      }
    : undefined;
  // Its webhook step calls a closed loopback port on purpose (it never answers): the operator allows it.
  const stack = await startTestStack({ egressAllow: ['127.0.0.1:9'], ...(tracing ? { tracing } : {}) });
  mkdirSync(OUT_DIR, { recursive: true });
  const ctx = { organizationId: 'org-replay', threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'lead' };
  const decision = { organizationId: ctx.organizationId, threadId: ctx.threadId, emittedBy: 'alice' };
  // The approval gate: a person who decides, a second one for quorums, the lead agent that asks.
  await castIn(stack, ctx.organizationId, ['alice', 'bob']);
  await stack.store.principals.save({ organizationId: ctx.organizationId, id: ctx.leadAgentId, kind: 'agent', roles: [] });
  // The lifecycle paths below gate cross-thread plans only (as before requireApprovalFor): the executed one calls out.
  await stack.plans.policies.set(ctx.organizationId, { requireApprovalFor: ['cross-thread'] }, 'root');
  try {
    const approved = await stack.plans.runs.create({ ...ctx, draft: { ...diamondDraft(), schedule: { every: '1h' } } });
    await stack.plans.runs.approve({ ...decision, runId: approved.runId });
    await record(stack, 'approve-update-with-schedule', approved.workflowId);

    const signalled = await stack.plans.runs.create({ ...ctx, draft: linearDraft(3) });
    const handle = stack.client.workflow.getHandle(signalled.workflowId);
    await handle.signal(approveSignal, { ...decision, organizationId: 'intruder' });
    await handle.signal(rejectSignal, { ...decision, resolution: 'changes-requested', reason: 'More detail.' });
    await handle.result();
    await record(stack, 'refused-then-reject-signal', signalled.workflowId);

    const direct = await stack.plans.runs.create({
      ...ctx,
      sourceThreadId: ctx.threadId,
      draft: { ...linearDraft(2), schedule: { cron: '0 9 * * 1' } },
    });
    await record(stack, 'no-approval-with-schedule', direct.workflowId);

    const old = await stack.plans.runs.create({ ...ctx, draft: linearDraft(2) });
    const { sourceThreadId: _source, ...replaceScope } = ctx;
    const next = await stack.plans.runs.replace({ ...replaceScope, runId: old.runId, reason: 'Rework.', draft: diamondDraft() });
    await stack.client.workflow.getHandle(old.workflowId).result();
    await record(stack, 'replaced', old.workflowId);
    await record(stack, 'replacement', next.workflowId);

    const contested = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    await Promise.allSettled([
      stack.plans.runs.approve({ ...decision, runId: contested.runId }),
      stack.plans.runs.reject({ ...decision, runId: contested.runId }),
    ]);
    await record(stack, 'concurrent-decisions', contested.workflowId);

    const noop = { type: 'system', action: 'noop' };
    const executed = await stack.plans.runs.create({
      ...ctx,
      sourceThreadId: ctx.threadId,
      draft: {
        title: 'Executed',
        objective: 'Agent, person, timer, then a webhook that never answers.',
        nodes: [
          { id: 'draft', title: 'Draft', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Write.', dependsOn: [] },
          {
            id: 'review',
            title: 'Review',
            executor: { type: 'human' },
            dependsOn: ['draft'],
            deadline: { after: '1h', warnBefore: '30m' },
          },
          { id: 'pause', title: 'Pause', executor: { type: 'system', action: 'wait', duration: '100ms' }, dependsOn: ['review'] },
          { id: 'side', title: 'Side', executor: noop, dependsOn: ['draft'] },
          {
            id: 'hook',
            title: 'Hook',
            executor: { type: 'system', action: 'webhook', url: 'http://127.0.0.1:9/unreachable' },
            optional: true,
            retry: { maxAttempts: 2, initialInterval: '50ms' },
            dependsOn: ['pause'],
          },
        ],
      },
    });
    await waitFor(stack, executed.runId, 'awaiting-human');
    await stack.plans.runs.completeNode({ ...decision, runId: executed.runId, nodeId: 'review', output: { ok: true } });
    await stack.client.workflow.getHandle(executed.workflowId).result();
    await record(stack, 'executed-agent-human-wait-optional-webhook', executed.workflowId);

    const abortable = await stack.plans.runs.create({ ...ctx, sourceThreadId: ctx.threadId, draft: linearDraft(1) });
    await stack.client.workflow.getHandle(abortable.workflowId).result();
    const waiting = await stack.plans.runs.create({
      ...ctx,
      sourceThreadId: ctx.threadId,
      draft: { title: 'Abort me', objective: 'Wait.', nodes: [{ id: 'ask', title: 'Ask', executor: { type: 'human' } }] },
    });
    await waitFor(stack, waiting.runId, 'awaiting-human');
    await stack.plans.runs.abort({ ...decision, runId: waiting.runId, reason: 'No longer needed.' });
    await record(stack, 'aborted-while-waiting', waiting.workflowId);

    // The gate's own paths: refused signals (requester, unknown), a quorum reached, a veto mid-quorum, an expiry, an assignee.
    const gated = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1, { approval: { required: 2 } }) });
    const gatedHandle = stack.client.workflow.getHandle(gated.workflowId);
    await gatedHandle.signal(approveSignal, { ...decision, emittedBy: ctx.leadAgentId });
    await gatedHandle.signal(approveSignal, { ...decision, emittedBy: 'ghost' });
    await stack.plans.runs.approve({ ...decision, runId: gated.runId, reason: 'One.' });
    await stack.plans.runs.approve({ ...decision, runId: gated.runId });
    await stack.plans.runs.approve({ ...decision, emittedBy: 'bob', runId: gated.runId });
    await gatedHandle.result();
    await record(stack, 'gate-refusals-then-quorum', gated.workflowId);

    const vetoed = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1, { approval: { required: 2 } }) });
    await stack.plans.runs.approve({ ...decision, runId: vetoed.runId });
    await stack.plans.runs.reject({ ...decision, emittedBy: 'bob', runId: vetoed.runId, resolution: 'changes-requested' });
    await record(stack, 'gate-veto-mid-quorum', vetoed.workflowId);

    const expiring = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1, { approval: { expiresAfter: '1s' } }) });
    await stack.client.workflow.getHandle(expiring.workflowId).result();
    await record(stack, 'gate-expired', expiring.workflowId);

    const assigned = await stack.plans.runs.create({
      ...ctx,
      sourceThreadId: ctx.threadId,
      draft: {
        title: 'Assigned',
        objective: 'Only bob.',
        nodes: [{ id: 'ask', title: 'Ask', executor: { type: 'human', assignee: 'bob' } }],
      },
    });
    await waitFor(stack, assigned.runId, 'awaiting-human');
    await stack.client.workflow.getHandle(assigned.workflowId).signal(completeNodeSignal, { ...decision, nodeId: 'ask' });
    await stack.plans.runs.completeNode({ ...decision, emittedBy: 'bob', runId: assigned.runId, nodeId: 'ask', output: 'ok' });
    await stack.client.workflow.getHandle(assigned.workflowId).result();
    await record(stack, 'gate-assignee', assigned.workflowId);

    // The gate's hardening (issue 19): each path that records one of its patch markers.
    const narrowed = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1, { approval: { approvers: ['alice'] } }) });
    await stack.client.workflow
      .getHandle(narrowed.workflowId)
      .signal(rejectSignal, { ...decision, emittedBy: 'bob', reason: 'Not this one.' });
    await stack.client.workflow.getHandle(narrowed.workflowId).result();
    await record(stack, 'gate-reject-by-any-approver', narrowed.workflowId);

    const rechecked = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1, { approval: { required: 2 } }) });
    await stack.plans.runs.approve({ ...decision, runId: rechecked.runId });
    await stack.store.principals.save({ organizationId: ctx.organizationId, id: 'alice', kind: 'person', roles: [] });
    await stack.plans.runs.approve({ ...decision, emittedBy: 'bob', runId: rechecked.runId });
    await stack.store.principals.save({ organizationId: ctx.organizationId, id: 'alice', kind: 'person', roles: ['approver'] });
    await stack.plans.runs.approve({ ...decision, runId: rechecked.runId });
    await stack.client.workflow.getHandle(rechecked.workflowId).result();
    await record(stack, 'gate-recheck-at-quorum', rechecked.workflowId);

    const toReplace = await stack.plans.runs.create({ ...ctx, draft: linearDraft(1) });
    const { sourceThreadId: _s, ...scope } = ctx;
    const { runId: replacementId } = await stack.client.workflow.getHandle(toReplace.workflowId).executeUpdate(replacePlanUpdate, {
      args: [{ ...scope, reason: 'By hand.', newRunId: randomUUID(), plan: compileDraft(linearDraft(2)), requireApproval: true }],
    });
    await stack.client.workflow.getHandle(toReplace.workflowId).result();
    await record(stack, 'gate-replacement-rules', toReplace.workflowId);
    await stack.plans.runs.reject({ ...decision, runId: replacementId });

    // Routing by risk (issue 21), in an organization of its own: stages, a reminder and an
    // escalation, a delegate deciding, a standing approval granted and applied.
    const routed = { ...ctx, organizationId: 'org-routing' };
    const as = (emittedBy: string) => ({ organizationId: routed.organizationId, threadId: routed.sourceThreadId, emittedBy });
    await stack.plans.policies.set(routed.organizationId, { roles: ['lead', 'finance'] }, 'root');
    await Promise.all(
      [
        { id: 'alice', roles: ['approver'] },
        { id: 'bob', roles: [] },
        { id: 'lee', roles: ['lead'] },
        { id: 'fay', roles: ['finance'] },
        { id: 'ada', roles: ['admin'] },
      ].map(({ id, roles }) => stack.store.principals.save({ organizationId: routed.organizationId, id, kind: 'person', roles })),
    );
    await stack.store.principals.save({ organizationId: routed.organizationId, id: routed.leadAgentId, kind: 'agent', roles: [] });
    await stack.plans.policies.set(
      routed.organizationId,
      {
        roles: ['lead', 'finance'],
        reminders: ['1s'],
        escalations: [{ after: '2s', addApprovers: ['role:admin'] }],
        rules: [
          {
            name: 'large-refunds',
            when: { parameter: { name: 'amountEur', above: 1000 } },
            require: {
              stages: [
                { name: 'team lead', approvers: ['role:lead'] },
                { name: 'finance', approvers: ['role:finance'] },
              ],
            },
          },
        ],
      },
      'root',
    );
    const staged = await stack.plans.runs.create({ ...routed, draft: { ...linearDraft(1), parameters: { amountEur: 1200 } } });
    await stack.client.workflow.getHandle(staged.workflowId).signal(approveSignal, as('fay'));
    await stack.plans.runs.approve({ ...as('alice'), runId: staged.runId });
    await stack.plans.runs.approve({ ...as('lee'), runId: staged.runId });
    // The finance stage waits past its reminder and its escalation to admins; an admin approves it.
    for (let tries = 0; ((await stack.plans.runs.get(staged.runId)).approval?.escalated ?? 0) < 1; tries++) {
      if (tries > 400) throw new Error(`run ${staged.runId} never escalated`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    await stack.plans.runs.approve({ ...as('ada'), runId: staged.runId });
    await stack.client.workflow.getHandle(staged.workflowId).result();
    await record(stack, 'routing-stages-reminder-escalation', staged.workflowId);

    await stack.plans.delegations.create({
      organizationId: routed.organizationId,
      createdBy: 'alice',
      from: 'alice',
      to: 'bob',
      until: new Date(Date.now() + 86_400_000).toISOString(),
    });
    const delegated = await stack.plans.runs.create({ ...routed, draft: linearDraft(1, { approval: { required: 1 } }) });
    await stack.plans.runs.approve({ ...as('bob'), runId: delegated.runId });
    await stack.client.workflow.getHandle(delegated.workflowId).result();
    await record(stack, 'routing-delegate-approves', delegated.workflowId);

    const granted = await stack.plans.runs.create({ ...routed, draft: linearDraft(2) });
    await stack.plans.runs.approve({ ...as('alice'), runId: granted.runId, standing: '30d' });
    await stack.client.workflow.getHandle(granted.workflowId).result();
    const again = await stack.plans.runs.create({ ...routed, draft: linearDraft(2) });
    await stack.client.workflow.getHandle(again.workflowId).result();
    await record(stack, 'routing-standing-granted', granted.workflowId);
    await record(stack, 'routing-standing-applied', again.workflowId);

    // What you approved is what runs (issue 22, format 3), in an organization of its own: an
    // edit before approval, a plan approved step by step, an approval that lapsed before a step acted.
    const shaped = { ...ctx, organizationId: 'org-shaping' };
    const by = (emittedBy: string) => ({ organizationId: shaped.organizationId, threadId: shaped.sourceThreadId, emittedBy });
    await castIn(stack, shaped.organizationId, ['alice', 'bob', 'carol']);
    await stack.store.principals.save({ organizationId: shaped.organizationId, id: shaped.leadAgentId, kind: 'agent', roles: [] });
    const edited = await stack.plans.runs.create({ ...shaped, draft: linearDraft(2) });
    await stack.plans.runs.approve({ ...by('alice'), runId: edited.runId, draft: linearDraft(3), reason: 'One more step.' });
    await stack.client.workflow.getHandle(edited.workflowId).result();
    await record(stack, 'edit-then-approve', edited.workflowId);

    const stepped = await stack.plans.runs.create({
      ...shaped,
      draft: {
        ...linearDraft(2),
        nodes: [...linearDraft(2).nodes, { id: 'notify', title: 'Notify', executor: noop, dependsOn: ['step-2'], optional: true }],
      },
    });
    await stack.plans.runs.approve({ ...by('alice'), runId: stepped.runId, steps: { 'step-2': 'hold', notify: 'skip' } });
    await waitFor(stack, stepped.runId, 'awaiting-human');
    await stack.plans.runs.approve({ ...by('bob'), runId: stepped.runId, steps: { 'step-2': 'approve' } });
    await stack.client.workflow.getHandle(stepped.workflowId).result();
    await record(stack, 'steps-held-and-skipped', stepped.workflowId);

    const lapsing = await stack.plans.runs.create({
      ...shaped,
      draft: {
        title: 'Review then send',
        objective: 'A person reviews, then it sends.',
        nodes: [
          { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'bob' } },
          { id: 'send', title: 'Send', executor: noop, dependsOn: ['review'] },
        ],
      },
    });
    await stack.plans.runs.approve({ ...by('alice'), runId: lapsing.runId });
    await waitFor(stack, lapsing.runId, 'awaiting-human');
    // Through the client, which tells the run acting on her approval (as the API does).
    await stack.plans.principals.issueToken({ organizationId: shaped.organizationId, principalId: 'alice', roles: [] }, 'root');
    await stack.plans.runs.completeNode({ ...by('bob'), runId: lapsing.runId, nodeId: 'review' });
    await waitFor(stack, lapsing.runId, 'pending-approval');
    await stack.plans.runs.approve({ ...by('carol'), runId: lapsing.runId });
    await stack.client.workflow.getHandle(lapsing.workflowId).result();
    await record(stack, 'approval-lapsed-then-approved', lapsing.workflowId);

    // Started past the client, without the approval its rules require: refused where it starts.
    const skipRunId = randomUUID();
    const skipHandle = await stack.client.workflow.start('planRun', {
      workflowId: workflowIdOf(skipRunId),
      taskQueue: stack.config.taskQueue,
      args: [
        {
          runId: skipRunId,
          planSpecId: skipRunId,
          ...ctx,
          format: 2,
          requireApproval: false,
          rules: {
            policyVersion: 0,
            approvers: ['role:approver'],
            required: 1,
            expiresAfterMs: 86_400_000,
            onExpiry: 'reject',
            skipApproval: [],
            requesters: ['lead'],
            reasons: ['cross-thread'],
            conditions: ['cross-thread'],
          },
          plan: compileDraft(linearDraft(1)),
        },
      ],
    });
    await skipHandle.result();
    await record(stack, 'gate-skip-refused-at-start', skipHandle.workflowId);

    const runId = randomUUID();
    const big = compileDraft({
      title: 'Big',
      objective: 'Continue as new.',
      parallelism: 8,
      nodes: Array.from({ length: 60 }, (_, index) => ({
        id: `n${index}`,
        title: `N${index}`,
        executor: noop,
        dependsOn: index < 8 ? [] : [`n${index - 8}`],
      })),
    });
    const bigHandle = await stack.client.workflow.start('planRun', {
      workflowId: workflowIdOf(runId),
      taskQueue: stack.config.taskQueue,
      args: [{ runId, planSpecId: runId, ...ctx, sourceThreadId: ctx.threadId, requireApproval: false, plan: big, historyLimit: 150 }],
    });
    await bigHandle.result();
    const first = await stack.client.workflow.getHandle(bigHandle.workflowId, bigHandle.firstExecutionRunId).fetchHistory();
    writeFileSync(`${OUT_DIR}continued-as-new.json`, `${historyToJSON(first)}\n`);
    console.log(`recorded continued-as-new (${first.events?.length ?? 0} events)`);
  } finally {
    await stack.stop();
    await devServer?.stop();
    collector.close();
  }
  process.exit(0);
}

await main();
