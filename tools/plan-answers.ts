import { z } from 'zod';

import { ReceiptSchema } from '../api/answer-schemas.js';
import { PlanSnapshotSchema, PlanSummarySchema } from '../api/run-answer-schemas.js';
import type { PlanSnapshot } from '../domain/snapshot.js';

/*
 * What the plan tools answer about a run: the API's snapshot narrowed to what a model acts on
 * (its keys and types taken from the snapshot's schema, never re-typed), the decision so far,
 * and what happens next in words. A model reads `next`; a program reads `status` and `decision`.
 */

/** How the gate ended for a run: the API's decision records, summed up (null while pending). */
const DECISIONS = ['approved', 'rejected', 'changes-requested', 'not-required', 'aborted'] as const;

const StepLine = PlanSnapshotSchema.shape.nodes.element.pick({ nodeId: true, title: true, status: true });

export const PlanAnswerSchema = PlanSnapshotSchema.pick({
  runId: true,
  status: true,
  revision: true,
  title: true,
  threadId: true,
  sourceThreadId: true,
  requireApproval: true,
  createdAt: true,
  updatedAt: true,
}).extend({
  decision: z
    .enum(DECISIONS)
    .nullable()
    .describe(
      'How the approval gate ended: approved, rejected, changes-requested, not-required (the policy let it run), aborted; null while pending',
    ),
  decidedBy: z.string().nullable().describe('Who took the deciding decision (the last approver, the rejecter), when one did'),
  reason: z.string().nullable().describe('The reason the decider gave (for changes-requested: what to change)'),
  waitingFor: z
    .object({
      approvals: z.number().int().describe('Approvals still needed in the open stage'),
      from: z.array(z.string()).describe('Who may give them: principal ids or role:NAME'),
      stage: z.string().nullable(),
      expiresAt: z.string(),
      onExpiry: z.enum(['reject', 'approve']),
    })
    .nullable()
    .describe('While pending: whose approvals it waits for, and until when'),
  steps: z.array(StepLine),
  next: z.string().describe('What happens next and what to do, in words'),
  inboxUrl: z.string().nullable().describe('Where people review and decide the run (while it waits for them)'),
  receipt: ReceiptSchema.nullable().describe(
    'Once decided, by wait_for_decision: the deciding event’s receipt — its place in the organization’s signed audit record (docs/auditing.md)',
  ),
});
export type PlanAnswer = z.infer<typeof PlanAnswerSchema>;

export const PlanPageSchema = z.object({
  plans: z.array(PlanSummarySchema),
  nextCursor: z.string().nullable().describe('Pass as `cursor` for the next page; null at the end'),
});

const STOPPED: Record<string, string> = {
  completed: 'It completed: every step is done.',
  failed: 'It failed: a step failed for good; get_plan shows which.',
};

/** The run's decision from its decision records (`include=approvals`): the last one that ended the gate. */
function decisionOf(run: PlanSnapshot): Pick<PlanAnswer, 'decision' | 'decidedBy' | 'reason'> {
  if (run.status === 'pending-approval') return { decision: null, decidedBy: null, reason: null };
  const records = run.approvals ?? [];
  const ending = records.findLast((record) => record.decision !== 'approved') ?? records.at(-1);
  if (ending && (ending.decision !== 'approved' || run.requireApproval))
    return { decision: ending.decision, decidedBy: ending.emittedBy, reason: ending.reason };
  if (!run.requireApproval) return { decision: 'not-required', decidedBy: null, reason: null };
  return { decision: 'aborted', decidedBy: null, reason: null };
}

function waitingFor(run: PlanSnapshot): PlanAnswer['waitingFor'] {
  const { approval } = run;
  if (run.status !== 'pending-approval' || !approval) return null;
  const stage = approval.openStage;
  const counted = approval.approvals.filter((entry) => entry.stage === approval.stage).length;
  return {
    approvals: Math.max(stage.required - counted, 0),
    from: approval.narrowedTo ?? stage.approvers,
    stage: approval.stages ? `${stage.name} (${stage.index + 1} of ${stage.of})` : null,
    expiresAt: approval.expiresAt,
    onExpiry: approval.onExpiry,
  };
}

/** `role:approver` → "anyone with role approver"; a principal id as it is. */
const inWords = (selector: string) => (selector.startsWith('role:') ? `anyone with role ${selector.slice(5)}` : selector);

function nextOf(run: PlanSnapshot, answer: Omit<PlanAnswer, 'next'>): string {
  const waiting = answer.waitingFor;
  if (waiting) {
    const count = waiting.approvals === 1 ? 'one approval' : `${waiting.approvals} approvals`;
    return (
      `Waits for ${count} from ${waiting.from.map(inWords).join(', ')}${waiting.stage ? `, stage ${waiting.stage}` : ''}; ` +
      `expires ${waiting.expiresAt}, then ${waiting.onExpiry === 'reject' ? 'rejected' : 'approved'}. ` +
      `People decide in the inbox (${answer.inboxUrl}); you cannot. Call wait_for_decision with this runId to learn the outcome.`
    );
  }
  if (answer.decision === 'rejected')
    return `Rejected by ${answer.decidedBy}. Nothing runs.${answer.reason ? ` Their reason: ${answer.reason}` : ''}`;
  if (answer.decision === 'changes-requested')
    return `${answer.decidedBy} asked for changes: draft a changed plan and create it (nothing of this one runs).${answer.reason ? ` What to change: ${answer.reason}` : ''}`;
  if (run.status === 'aborted') return 'Aborted: nothing more of it runs.';
  const stopped = STOPPED[run.status];
  if (stopped) return stopped;
  const how = answer.decision === 'approved' ? `Approved by ${answer.decidedBy}` : 'It needed no approval';
  if (run.status === 'awaiting-human') return `${how}; a step now waits for a person (${run.waitingNodeId ?? 'see steps'}).`;
  if (run.status === 'blocked') return `${how}; it is blocked: a step cannot go on (get_plan shows which).`;
  return `${how}; it is running. Call get_plan to follow its steps.`;
}

/** A run as the tools answer it; `inboxUrl` is where people decide it. */
export function planAnswerOf(run: PlanSnapshot, inboxUrl: string): PlanAnswer {
  const partial = {
    runId: run.runId,
    status: run.status,
    revision: run.revision,
    title: run.title,
    threadId: run.threadId,
    sourceThreadId: run.sourceThreadId,
    requireApproval: run.requireApproval,
    createdAt: run.createdAt,
    updatedAt: run.updatedAt,
    ...decisionOf(run),
    waitingFor: waitingFor(run),
    steps: run.nodes.map(({ nodeId, title, status }) => ({ nodeId, title, status })),
    inboxUrl: run.status === 'pending-approval' || run.status === 'awaiting-human' ? inboxUrl : null,
    receipt: null,
  };
  return { ...partial, next: nextOf(run, partial) };
}
