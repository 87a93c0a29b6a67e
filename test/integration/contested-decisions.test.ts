import { randomUUID } from 'node:crypto';

import { ApplicationFailure, WorkflowNotFoundError, WorkflowUpdateFailedError } from '@temporalio/client';

import type { Stack } from '../../app/stack.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { workflowIdOf } from '../../temporal/names.js';
import { approvePlanUpdate, approveSignal, planQuery, rejectPlanUpdate, rejectSignal } from '../../workflows/messages.js';
import { linearDraft } from '../support/drafts.js';
import { expectRecordEqualsWorkflow } from '../support/record.js';
import { resultOf, startTestStack } from '../support/stack.js';
import { castIn, tokenFor } from '../support/principals.js';

/**
 * I1 and I4 under contention: one pending run, hundreds of people deciding at the same instant
 * through every door (Temporal updates, Temporal signals, the HTTP API). Exactly one decision
 * wins; the stored record names the winner the caller was told about, holds one refused-decision
 * event per refused signal and nothing for refused updates, and equals the workflow's state.
 */

const TRIES = 4;
const DECIDERS = { updates: 80, signals: 60, api: 60 };

let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack();
});
afterAll(async () => {
  await stack?.stop();
});

type Door = 'update' | 'signal' | 'api';
interface Decider {
  door: Door;
  actor: string;
  approve: boolean;
}

function deciders(): Decider[] {
  const list: Decider[] = [];
  const add = (door: Door, count: number) => {
    for (let index = 0; index < count; index++) list.push({ door, actor: `${door}-${index}`, approve: index % 2 === 0 });
  };
  add('update', DECIDERS.updates);
  add('signal', DECIDERS.signals);
  add('api', DECIDERS.api);
  return list;
}

/** A run that already ended takes no more messages: a decision sent then did not win either. */
function ended(error: unknown): boolean {
  return error instanceof WorkflowNotFoundError && /aborted by closing workflow|already completed/.test(error.message);
}

async function decide(run: PlanSnapshot, decider: Decider, tokens: Map<string, string>): Promise<'won' | 'refused' | 'sent'> {
  const payload = { organizationId: run.organizationId, threadId: run.threadId, emittedBy: decider.actor };
  const handle = stack.client.workflow.getHandle(workflowIdOf(run.runId));
  if (decider.door === 'signal') {
    try {
      await handle.signal(decider.approve ? approveSignal : rejectSignal, payload);
      return 'sent';
    } catch (error) {
      if (ended(error)) return 'refused';
      throw error;
    }
  }
  if (decider.door === 'update') {
    try {
      await handle.executeUpdate(decider.approve ? approvePlanUpdate : rejectPlanUpdate, { args: [payload] });
      return 'won';
    } catch (error) {
      // S4's refusal, or the run ended before the update was looked at: either way it did not win.
      const notPending =
        error instanceof WorkflowUpdateFailedError && error.cause instanceof ApplicationFailure && error.cause.type === 'not-pending';
      if (notPending || ended(error)) return 'refused';
      throw error;
    }
  }
  const response = await fetch(`${stack.apiUrl}/v1/plans/${run.runId}/${decider.approve ? 'approve' : 'reject'}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(decider.actor)}` },
    body: JSON.stringify({ threadId: run.threadId }),
  });
  await response.text();
  if (response.status === 200) return 'won';
  if (response.status === 409) return 'refused';
  throw new Error(`API decision answered ${response.status}`);
}

it(`${TRIES} times, ${DECIDERS.updates + DECIDERS.signals + DECIDERS.api} concurrent deciders: one wins, and the record says who`, async () => {
  for (let attempt = 0; attempt < TRIES; attempt++) {
    const organizationId = `org-${randomUUID()}`;
    const everyone = deciders();
    await castIn(
      stack,
      organizationId,
      everyone.map((decider) => decider.actor),
    );
    const tokens = new Map(
      await Promise.all(
        everyone
          .filter((decider) => decider.door === 'api')
          .map(async (decider) => [decider.actor, await tokenFor(stack, organizationId, decider.actor)] as const),
      ),
    );
    const run = await stack.plans.runs.create({
      organizationId,
      threadId: 't-1',
      sourceThreadId: 't-9',
      leadAgentId: 'planner',
      draft: linearDraft(2),
    });
    const outcomes = await Promise.all(everyone.map((decider) => decide(run, decider, tokens)));
    const handle = stack.client.workflow.getHandle(run.workflowId);
    const final = await resultOf(handle);
    const committed = await handle.query(planQuery);

    const winners = everyone.filter((_, index) => outcomes[index] === 'won');
    expect(winners.length).toBeLessThanOrEqual(1);
    const stored = await stack.plans.runs.get(run.runId, { includeEvents: true, includeCheckpoints: true });
    const decisions = stored.events!.filter((event) =>
      ['plan-approved', 'plan-rejected', 'plan-changes-requested'].includes(event.eventType),
    );
    expect(decisions).toHaveLength(1);
    const decision = decisions[0]!;
    const signals = everyone.filter((decider, index) => decider.door === 'signal' && outcomes[index] === 'sent');
    if (winners.length === 1) {
      // The caller told "200" is the decision recorded.
      expect(decision.emittedBy).toBe(winners[0]!.actor);
      expect(decision.eventType).toBe(winners[0]!.approve ? 'plan-approved' : 'plan-rejected');
    } else {
      // No update won: a signal did, and it is one that was sent.
      const signal = signals.find((decider) => decider.actor === decision.emittedBy);
      expect(signal).toBeDefined();
      expect(decision.eventType).toBe(signal!.approve ? 'plan-approved' : 'plan-rejected');
    }
    expect(final.status).toBe(decision.eventType === 'plan-approved' ? 'completed' : 'aborted');
    // Every delivered signal that did not win is audited once; refused updates and API calls leave no trace.
    const refusedSignals = stored.events!.filter((event) => event.eventType === 'decision-refused');
    expect(refusedSignals).toHaveLength(signals.length - (winners.length === 1 ? 0 : 1));
    expect(new Set(refusedSignals.map((event) => event.emittedBy)).size).toBe(refusedSignals.length);
    const refusedCallers = new Set(everyone.filter((_, index) => outcomes[index] === 'refused').map((decider) => decider.actor));
    expect(stored.events!.filter((event) => refusedCallers.has(event.emittedBy))).toEqual([]);
    expect(committed.status).toBe(final.status);
    await expectRecordEqualsWorkflow(stack, run.runId);
  }
}, 300_000);
