import { finishNode, dispatchReadyNodes } from '../../domain/execution.js';
import { type CommittedRecord, type StoredRecord, compareRecords } from '../../domain/run-record.js';
import type { StateChange } from '../../domain/run-state.js';
import { approveRun, createRun } from '../../domain/transitions.js';
import { snapshotOf } from '../../domain/snapshot.js';
import { compileDraft } from '../../domain/validate.js';
import { diamondDraft } from '../support/drafts.js';
import { runContext } from '../support/run-context.js';

const plan = compileDraft(diamondDraft());
const context = runContext();

/** A run created, approved by carol, its first node started and completed: what the workflow committed. */
function committedRun(): CommittedRecord {
  const steps: StateChange[] = [createRun(context, plan, '2026-11-26T10:00:00.000Z')];
  const push = (step: StateChange | undefined) => step && steps.push(step);
  push(approveRun(steps.at(-1)!.state, plan, { organizationId: 'org-1', threadId: 't-9', emittedBy: 'carol' }, '2026-11-26T10:01:00.000Z'));
  push(dispatchReadyNodes(steps.at(-1)!.state, plan, '2026-11-26T10:01:00.000Z'));
  push(finishNode(steps.at(-1)!.state, plan, 'start', { artifactIds: ['r1:start:1'], emittedBy: 'system' }, '2026-11-26T10:02:00.000Z'));
  const { state } = steps.at(-1)!;
  return {
    creation: { header: { ...context, title: plan.title, objective: plan.objective, createdAt: '2026-11-26T10:00:00.000Z' }, plan },
    persisted: true,
    snapshot: snapshotOf(state, plan),
    nodes: state.nodes,
    transitions: steps.map((step) => step.transition),
  };
}

/** The same record as SurrealDB hands it back: objects with their keys in another order, absent fields as null. */
function storedCopy(committed: CommittedRecord): StoredRecord {
  const reorder = <T>(value: T): T =>
    JSON.parse(
      JSON.stringify(value, (_key, entry) =>
        entry && typeof entry === 'object' && !Array.isArray(entry) ? Object.fromEntries(Object.entries(entry).reverse()) : entry,
      ),
    );
  return {
    snapshot: reorder(committed.snapshot),
    nodes: committed.nodes.map((node) => ({ ...reorder(node), error: null as never })),
    lastTransition: committed.transitions.at(-1)!.sequence,
    events: committed.transitions
      .flatMap((transition) => transition.events)
      .map((event) => ({ ...reorder(event), feedSeq: 99, organizationId: 'org-1' })),
    checkpoints: reorder(committed.transitions.flatMap((transition) => (transition.checkpoint ? [transition.checkpoint] : []))),
    artifacts: [
      { artifactId: 'r1:start:1', nodeId: 'start', attempt: 1, content: 'out', createdBy: 'echo', createdAt: '2026-11-26T10:02:00.000Z' },
    ],
  };
}

describe('compareRecords (I1)', () => {
  it('finds nothing when the stored record holds what was committed, whatever its key order and nulls', () => {
    const committed = committedRun();
    expect(compareRecords(committed, storedCopy(committed))).toEqual([]);
  });

  it('names the approver recorded in place of the one Temporal committed', () => {
    const committed = committedRun();
    const stored = storedCopy(committed);
    const approved = stored.events.find((event) => event.eventType === 'plan-approved')!;
    approved.emittedBy = 'heidi';
    expect(compareRecords(committed, stored)).toEqual([
      { path: `event ${approved.sequence}.emittedBy`, stored: 'heidi', committed: 'carol' },
    ]);
  });

  it('finds a run stored as running that Temporal aborted, its nodes, and the transitions it is missing', () => {
    const committed = committedRun();
    const stored = storedCopy(committed);
    stored.snapshot.status = 'aborted';
    stored.nodes.find((node) => node.nodeId === 'start')!.status = 'running';
    stored.lastTransition -= 1;
    expect(compareRecords(committed, stored)).toEqual(
      expect.arrayContaining([
        { path: 'run.lastTransition', stored: committed.transitions.length - 1, committed: committed.transitions.length },
        { path: 'run.status', stored: 'aborted', committed: committed.snapshot.status },
        { path: 'node start.status', stored: 'running', committed: 'completed' },
      ]),
    );
  });

  it('finds events and checkpoints missing, stored twice under another number, or extra', () => {
    const committed = committedRun();
    const stored = storedCopy(committed);
    const missing = stored.events.pop()!;
    stored.events.push({ ...missing, sequence: missing.sequence + 1 });
    stored.checkpoints.shift();
    const divergences = compareRecords(committed, stored);
    expect(divergences).toEqual(
      expect.arrayContaining([
        { path: `event ${missing.sequence}`, stored: undefined, committed: 'present' },
        { path: `event ${missing.sequence + 1}`, stored: 'present', committed: undefined },
        { path: 'checkpoint 1', stored: undefined, committed: 'present' },
      ]),
    );
    expect(divergences).toHaveLength(3);
  });

  it('finds a missing run, and an output a node refers to that was never stored', () => {
    const committed = committedRun();
    expect(compareRecords(committed, undefined)).toEqual([{ path: 'run', stored: undefined, committed: committed.snapshot.status }]);
    const stored = storedCopy(committed);
    stored.artifacts = [];
    expect(compareRecords(committed, stored)).toEqual([{ path: 'artifact r1:start:1', stored: undefined, committed: 'output of start' }]);
  });
});
