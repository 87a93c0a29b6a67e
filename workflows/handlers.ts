import { ApplicationFailure, type SignalDefinition, type UpdateDefinition } from '@temporalio/common';
import { setHandler } from '@temporalio/workflow';

import type { Decider } from '../domain/approval.js';
import type { PlanError } from '../domain/errors.js';
import { type Checked, type MessageKind, checkAbort, checkNodeCompletion, checkReplace } from '../domain/decisions.js';
import { completeByPerson } from '../domain/execution.js';
import { abortRun, refuseDecision, rejectRun, replaceRun } from '../domain/transitions.js';
import { workflowIdOf } from '../temporal/names.js';
import {
  abortPlanUpdate,
  abortSignal,
  approvePlanUpdate,
  approveSignal,
  approversChangedSignal,
  completeNodeSignal,
  completeNodeUpdate,
  persistedPlanUpdate,
  planQuery,
  recordQuery,
  rejectPlanUpdate,
  rejectSignal,
  replacePlanUpdate,
} from './messages.js';
import { type WorkflowRun, now } from './run.js';
import type { PlanSnapshot } from '../domain/snapshot.js';

/**
 * A message people send both as an update (answered, or refused synchronously by its validator
 * without touching history) and as a signal (fire-and-forget: a refusal changes nothing but is
 * recorded as a `decision-refused` event). Declared once; both handlers come from it.
 */
export interface MessagePair<P, V, R = undefined> {
  update: UpdateDefinition<PlanSnapshot, [P]>;
  signal: SignalDefinition<[P]>;
  /** What a refused signal is recorded as. */
  refused: MessageKind;
  /** For the Web UI: what it does, what it carries, and how the signal is called in words. */
  does: string;
  payload: string;
  signalDoes: string;
  /**
   * The rules (pure, shared with the client): the value to act on, or why not. `who` is the
   * decider as looked up (null: unknown); undefined before the lookup, which checks all else.
   */
  check(payload: P, who?: Decider | null): Checked<V>;
  /** The principal a payload names, when the run's rules need it looked up before acting (runs under the gate). */
  decider?(payload: P): string | undefined;
  /**
   * What must be looked up once the message is known to be acceptable, before it is taken (an
   * approval completing the quorum: whether the approvals counted earlier still stand);
   * undefined when nothing is. The message is checked again after it, against the run as it
   * then is.
   */
  prepare?(value: V): Promise<R> | undefined;
  /** The decider as `prepare` found it, to check the message against again (the one looked up before otherwise). */
  deciderAfter?(prepared: R): Decider | null;
  /** Why what `prepare` found refuses the message after all (an edit that was refused), checked after the message itself. */
  preparedRefusal?(prepared: R): PlanError | undefined;
  /** Takes the value into the run (with what `prepare` found); answers the outbox position to settle before answering. */
  act(value: V, prepared?: R): number;
}

/** What the pairs need of the run. */
export interface MessageHost {
  settled(position: number): Promise<void>;
  snapshot(): PlanSnapshot;
  refuse(refused: MessageKind, payload: unknown, refusal: PlanError): void;
  /** Looks a principal up in the run's organization. */
  lookup(principalId: string): Promise<Decider | null>;
}

/** A refusal as the failure an update's caller receives: its code is the failure's type, so the client maps it back. */
export function toFailure(error: PlanError): ApplicationFailure {
  return ApplicationFailure.create({ type: error.code, message: error.message, nonRetryable: true });
}

/** Builds a pair with its types checked (the table in plan-run.ts holds pairs of several payloads). */
export function messagePair<P, V, R = undefined>(pair: MessagePair<P, V, R>): MessagePair<unknown, unknown, unknown> {
  return pair as unknown as MessagePair<unknown, unknown, unknown>;
}

/** A message taken (the outbox position to settle) or refused. */
type Taken = { position: number } | { refusal: PlanError };

/**
 * Takes a message whose decider is looked up (`who`): checked against the run, then — when the
 * pair prepares something — checked again after that await, since the run may have moved on
 * meanwhile (another decision, expiry). Without anything to prepare it is taken in the same
 * turn, synchronously, as runs recorded before `prepare` existed were.
 */
function takeChecked(pair: MessagePair<unknown, unknown, unknown>, payload: unknown, who: Decider | null): Taken | Promise<Taken> {
  const first = pair.check(payload, who);
  if (first.refusal) return { refusal: first.refusal };
  const preparing = pair.prepare?.(first.value);
  if (!preparing) return { position: pair.act(first.value) };
  // The hazard: the lookups yield, and other messages (or the expiry timer) run meanwhile.
  return preparing.then((prepared) => {
    const again = pair.check(payload, pair.deciderAfter ? pair.deciderAfter(prepared) : who);
    const refusal = again.refusal ?? pair.preparedRefusal?.(prepared);
    return refusal ? { refusal } : { position: pair.act(again.value!, prepared) };
  });
}

/**
 * Registers every pair's update handler, then every pair's signal handler, in table order. A
 * message that needs no lookup acts at once, as before the gate (older runs replay unchanged);
 * one that does is checked again once its decider is known, against the run as it then is.
 */
export function registerMessagePairs(host: MessageHost, pairs: ReadonlyArray<MessagePair<unknown, unknown, unknown>>): void {
  for (const pair of pairs) {
    setHandler(
      pair.update,
      async (payload) => {
        const principalId = pair.decider?.(payload);
        if (principalId === undefined) {
          await host.settled(pair.act(pair.check(payload).value!));
          return host.snapshot();
        }
        const taking = takeChecked(pair, payload, await host.lookup(principalId));
        const taken = taking instanceof Promise ? await taking : taking;
        if ('refusal' in taken) throw toFailure(taken.refusal);
        await host.settled(taken.position);
        return host.snapshot();
      },
      {
        validator: (payload) => {
          const { refusal } = pair.check(payload);
          if (refusal) throw toFailure(refusal);
        },
        description: `${pair.does}: ${pair.payload}.`,
      },
    );
  }
  for (const pair of pairs) {
    setHandler(
      pair.signal,
      (payload) => {
        const { value, refusal } = pair.check(payload);
        const principalId = refusal ? undefined : pair.decider?.(payload);
        if (principalId === undefined) {
          if (refusal) host.refuse(pair.refused, payload, refusal);
          else pair.act(value!);
          return undefined;
        }
        const refuseIfRefused = (taken: Taken) => {
          if ('refusal' in taken) host.refuse(pair.refused, payload, taken.refusal);
        };
        return host.lookup(principalId).then((who) => {
          const taking = takeChecked(pair, payload, who);
          return taking instanceof Promise ? taking.then(refuseIfRefused) : refuseIfRefused(taking);
        });
      },
      { description: `${pair.signalDoes}, fire-and-forget (same payload as ${pair.update.name}).` },
    );
  }
}

/**
 * Every message of a run: its queries, the creation's answer, the four update/signal pairs
 * (each declared once, its rules pure and shared with the client) and the replacement.
 */
export function registerHandlers(run: WorkflowRun): void {
  setHandler(planQuery, () => run.snapshot(), { description: 'The run as it stands: status, nodes, schedule.' });
  setHandler(recordQuery, (request = {}) => run.recordPage(request.from, request.limit), {
    description: 'What this execution committed, transition by transition: {from?, limit?} (for `plans doctor`).',
  });
  setHandler(approversChangedSignal, () => run.actionCheck.invalidate(), {
    description: 'Someone the approval rests on changed in the directory: look the approvers up again before the next step acts.',
  });
  setHandler(
    persistedPlanUpdate,
    async () => {
      // A run checking its skip of approval holds its schedule until admitted: the answer waits for it.
      const admitting = run.whenAdmitted();
      if (admitting) await admitting;
      await run.outbox.settled(run.outbox.length);
      return run.snapshot();
    },
    { description: 'Answers once everything the run accepted took effect; SurrealDB holds it once it shows the same version.' },
  );
  registerMessagePairs(
    {
      settled: (position) => run.outbox.settled(position),
      snapshot: () => run.snapshot(),
      refuse: (refused, payload, refusal) => run.refuse(refuseDecision(run.state, refused, payload, refusal, now()), refused, refusal),
      lookup: (principalId) => run.lookup(principalId),
    },
    [
      messagePair({
        update: approvePlanUpdate,
        signal: approveSignal,
        refused: 'approve',
        does: 'Approve a pending run',
        payload:
          '{organizationId, threadId, emittedBy, reason?, expectedRevision?, standing?, draft? | patch?} (draft: the whole edited plan; patch: a merge patch of it)',
        signalDoes: 'Approve',
        check: (payload, who) => run.checkApprove(payload, who),
        decider: (payload) => run.deciderOf(payload),
        prepare: (decision) => run.prepareApproval(decision),
        deciderAfter: (prepared) => prepared.decider,
        preparedRefusal: (prepared) => run.preparedRefusal(prepared),
        act: (decision, prepared) => run.approve(decision, prepared),
      }),
      messagePair({
        update: rejectPlanUpdate,
        signal: rejectSignal,
        refused: 'reject',
        does: 'Reject a pending run',
        payload: '{organizationId, threadId, emittedBy, reason?, resolution?: rejected|changes-requested, expectedRevision?}',
        signalDoes: 'Reject',
        check: (payload, who) => run.checkReject(payload, who),
        decider: (payload) => run.deciderOf(payload),
        act: (decision) => run.take(rejectRun(run.state, decision, now())),
      }),
      messagePair({
        update: completeNodeUpdate,
        signal: completeNodeSignal,
        refused: 'complete-node',
        does: 'Complete the node waiting for a person',
        payload: '{organizationId, threadId, emittedBy, nodeId, output?}',
        signalDoes: 'Complete a waiting node',
        check: (payload, who) => checkNodeCompletion(run.state, payload, who, (nodeId) => run.assigneeOf(nodeId)),
        decider: (payload) => run.deciderOf(payload),
        act: (completion) => run.take(completeByPerson(run.state, run.plan, completion, now())),
      }),
      messagePair({
        update: abortPlanUpdate,
        signal: abortSignal,
        refused: 'abort',
        does: 'Abort an active run',
        payload: '{organizationId, threadId, emittedBy, reason}',
        signalDoes: 'Abort',
        check: (payload) => checkAbort(run.state, payload),
        act: (abort) => run.take(abortRun(run.state, abort, now())),
      }),
    ],
  );
  setHandler(
    replacePlanUpdate,
    async (request) => {
      const admitting = run.admitReplacement(request);
      // The hazard: a requester lookup yields, and the run may end meanwhile; checked again after it.
      const admitted = admitting instanceof Promise ? await admitting : admitting;
      const refusal = admitted.refusal ?? (admitting instanceof Promise ? checkReplace(run.state, request) : undefined);
      if (refusal) throw toFailure(refusal);
      await run.outbox.settled(run.take(replaceRun(run.state, admitted.request!, now())));
      return { runId: request.newRunId, workflowId: workflowIdOf(request.newRunId) };
    },
    {
      description: 'Abort this run and start its replacement (sent by PlansClient.replacePlan).',
      validator: (request) => {
        const refusal = checkReplace(run.state, request);
        if (refusal) throw toFailure(refusal);
      },
    },
  );
}
