import { type WrittenDraft, draftOf } from '../domain/draft-of.js';
import type { ApprovalReason, Decider } from '../domain/approval.js';
import { PlanError, formatIssues } from '../domain/errors.js';
import { type ValidationContext, validateDraft } from '../domain/validate.js';
import { revisionOf } from './revision.js';
import { type PlanDiff, diffPlans } from '../domain/plan-diff.js';
import {
  type AgentEndpoints,
  type ExternalCall,
  type Outlook,
  type StepView,
  approvalReasonsOfRun,
  completionOutlook,
  decisionOutlook,
  stepOutlook,
  stepViewOf,
  stepsOf,
} from '../domain/plan-review.js';
import type { CompiledPlan } from '../domain/plan.js';
import type { ArtifactRecord } from '../domain/run-state.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import type { PlanRevisionRecord } from '../domain/plan-edit.js';
import type { StepRecords } from '../domain/step-records.js';
import type { PlanStore } from '../storage/plan-store.js';

/** One revision of a run's plan, for people: who made it and when (the first is the requester's draft). */
export interface RevisionSummary {
  number: number;
  revision: string | null;
  editedBy: string | null;
  onBehalfOf: string | null;
  editedAt: string | null;
}

/**
 * What changed in a run's plan: between two of its revisions (`from`, `to`: an edit before
 * approval, by default the last), else against the run it replaced; `diff` is null when neither.
 */
export interface PlanDiffView {
  runId: string;
  revision: string | null;
  replacedRunId: string | null;
  replacedRevision: string | null;
  /** Every revision of the run's plan, 1..n (one for a run never edited). */
  revisions: RevisionSummary[];
  from: RevisionSummary | null;
  to: RevisionSummary | null;
  diff: PlanDiff | null;
}

/** `A..B`: two revisions of a run, each by number (`1`) or by revision (`3b9e1c0a`, a prefix of 8 or more digits). */
const REVISION_RANGE = /^([0-9a-f]+)\.\.([0-9a-f]+)$/;

/** A step waiting for a person, with what it reviews: the outputs of the steps it depends on. */
export interface WaitingStepView {
  nodeId: string;
  title: string;
  instructions: string | null;
  /** `person`: a person's step to complete; `approval`: a step held for a decision before it runs. */
  waitsFor: 'person' | 'approval';
  /** A principal id or `role:NAME`; null: any person of the organization. */
  assignee: string | null;
  you: Outlook;
  inputs: Array<{ nodeId: string; title: string; artifacts: ArtifactRecord[] }>;
}

/** Everything a person needs to decide a run, or to do its steps: read as one principal. */
export interface PlanReview {
  runId: string;
  revision: string | null;
  steps: StepView[];
  /** The calls the plan makes outside the system, for the top of the page. */
  externalCalls: Array<ExternalCall & { nodeId: string; title: string }>;
  /** Why the run needs approval: the conditions of the organization's policy that held for it (the snapshot's `approval.reasons`); null when it needs none. */
  approvalReasons: ApprovalReason[] | null;
  /** Whether the viewer may approve now, and why not. */
  you: Outlook;
  /** Whether the viewer may reject (or request changes) now: any approver of the organization, whatever the draft narrowed. */
  rejecting: Outlook;
  waiting: WaitingStepView[];
}

/** What an edited draft would change against the plan as it stands (`POST /v1/plans/:runId/draft/diff`). */
export interface EditPreview {
  runId: string;
  revision: string | null;
  /** The revision the edited plan would be. */
  editedRevision: string;
  diff: PlanDiff;
}

/** A run's plan as a draft: `plans get RUN --draft`, `GET /v1/plans/:runId/draft`. */
export interface DraftView {
  runId: string;
  revision: string | null;
  draft: WrittenDraft;
}

function summaryOf(record: PlanRevisionRecord): RevisionSummary {
  return {
    number: record.number,
    revision: record.revision || null,
    editedBy: record.editedBy ?? null,
    onBehalfOf: record.onBehalfOf ?? null,
    editedAt: record.editedAt ?? null,
  };
}

/** The two revisions `A..B` names; `invalid-input` naming the ones the run has, otherwise. */
function rangeOf(range: string, revisions: readonly PlanRevisionRecord[], runId: string): [PlanRevisionRecord, PlanRevisionRecord] {
  const known = () => revisions.map((record) => `${record.number} (${record.revision})`).join(', ');
  const match = REVISION_RANGE.exec(range);
  if (!match)
    throw new PlanError('invalid-input', `revisions must be A..B, each a revision number or a revision (run ${runId} has ${known()}).`);
  const find = (ref: string) => {
    const found = /^\d{1,4}$/.test(ref)
      ? revisions.find((record) => record.number === Number(ref))
      : ref.length >= 8
        ? revisions.find((record) => record.revision.startsWith(ref))
        : undefined;
    if (!found) throw new PlanError('invalid-input', `Revision ${ref} is not one of run ${runId}'s: it has ${known()}.`);
    return found;
  };
  return [find(match[1]!), find(match[2]!)];
}

/**
 * What people see before they act: every step in full, what changed since the revision a
 * replacement replaced, and whether the viewer may act — by the same pure rules the workflow
 * applies, so the page never offers what the workflow would refuse.
 */
export class ReviewsClient {
  constructor(
    private readonly store: PlanStore,
    private readonly agentEndpoints: AgentEndpoints,
    /** How a draft is validated here (the agents the workers run), as a create validates it. */
    private readonly validation: ValidationContext = {},
  ) {}

  /**
   * What an edit would change, before anyone approves it: the edited draft validated like a draft
   * (`invalid-input` naming every issue), then compared with the plan as it stands. Nothing is
   * stored; the run admits the edit itself when it is sent (egress, secrets, rules).
   */
  async previewEdit(runId: string, draft: unknown): Promise<EditPreview> {
    const { run, plan } = await this.load(runId);
    const checked = validateDraft(draft, this.validation);
    if (!checked.ok) throw new PlanError('invalid-input', formatIssues(checked.issues), checked.issues);
    return { runId, revision: run.revision, editedRevision: revisionOf(checked.plan), diff: diffPlans(plan, checked.plan) };
  }

  /** The run as `viewer` reviews it. Throws `not-found` for an unknown run. */
  async review(runId: string, principal: Decider): Promise<PlanReview> {
    const { run, plan } = await this.load(runId);
    // Whom the viewer acts for by delegation counts too, as the workflow will count it.
    const viewer = await this.store.actingFor(run.organizationId, principal);
    const { steps, externalCalls } = stepsOf(plan, this.agentEndpoints);
    const byId = new Map(run.nodes.map((node) => [node.nodeId, node]));
    const waitingNodes = plan.nodes.filter((node) => ['awaiting-human', 'awaiting-approval'].includes(byId.get(node.nodeId)?.status ?? ''));
    const upstreamIds = waitingNodes.flatMap((node) => node.dependsOn.flatMap((id) => byId.get(id)?.artifactIds ?? []));
    const artifacts = new Map((await this.store.runs.getArtifacts(upstreamIds)).map((artifact) => [artifact.artifactId, artifact]));
    const waiting = waitingNodes.map((node) => {
      const assignee = node.executor.type === 'human' ? node.executor.assignee : undefined;
      const held = byId.get(node.nodeId)?.status === 'awaiting-approval';
      return {
        nodeId: node.nodeId,
        title: node.title,
        instructions: node.instructions ?? null,
        waitsFor: held ? ('approval' as const) : ('person' as const),
        assignee: assignee ?? null,
        you: held ? stepOutlook(run, node.nodeId, viewer) : completionOutlook(run, node.nodeId, assignee, viewer),
        inputs: node.dependsOn.map((id) => ({
          nodeId: id,
          title: byId.get(id)?.title ?? id,
          artifacts: (byId.get(id)?.artifactIds ?? []).flatMap((artifactId) => artifacts.get(artifactId) ?? []),
        })),
      };
    });
    return {
      runId,
      revision: run.revision,
      steps,
      externalCalls,
      approvalReasons: approvalReasonsOfRun(run),
      you: decisionOutlook(run, viewer),
      rejecting: decisionOutlook(run, viewer, 'reject'),
      waiting,
    };
  }

  /**
   * What changed: between revisions `range` (`A..B`) of the run's plan; without one, its last
   * edit, else what a replacement changed against the run it replaced. Throws `not-found` for an
   * unknown run, `invalid-input` for a range that names no revision of it.
   */
  async diff(runId: string, range?: string): Promise<PlanDiffView> {
    const { run, plan } = await this.load(runId);
    const stored = await this.store.runs.getRevisions(runId);
    const revisions = stored.length > 0 ? stored : [{ number: 1, revision: run.revision ?? '', planHash: '', plan }];
    const summaries = revisions.map(summaryOf);
    const none = {
      runId,
      revision: run.revision,
      replacedRunId: run.replacedRunId,
      replacedRevision: null,
      revisions: summaries,
      from: null,
      to: null,
      diff: null,
    };
    if (range !== undefined || revisions.length > 1) {
      const [from, to] = range === undefined ? [revisions.at(-2)!, revisions.at(-1)!] : rangeOf(range, revisions, runId);
      return { ...none, from: summaryOf(from), to: summaryOf(to), diff: diffPlans(from.plan, to.plan) };
    }
    if (!run.replacedRunId) return none;
    const replaced = await this.store.runs.getSnapshot(run.replacedRunId);
    const before = replaced && (await this.store.runs.getPlan(replaced.planSpecId));
    if (!replaced || !before) return none;
    return { ...none, replacedRevision: replaced.revision, diff: diffPlans(before, plan) };
  }

  /** The run's plan written back as the draft that compiles to it (what a person edits). Throws `not-found` for an unknown run. */
  async draft(runId: string): Promise<DraftView> {
    const { run, plan } = await this.load(runId);
    return { runId, revision: run.revision, draft: draftOf(plan) };
  }

  /**
   * A step's three records, kept apart: as proposed (the requester's draft), as approved (the
   * revision that runs, with who approved it), as effective (what each attempt was called with).
   * Throws `not-found` for an unknown run or a step no revision of it has.
   */
  async stepRecords(runId: string, nodeId: string): Promise<StepRecords> {
    const { run, plan } = await this.load(runId);
    const [revisions, effective] = await Promise.all([
      this.store.runs.getRevisions(runId),
      this.store.runs.getEffectiveCalls(runId, nodeId),
    ]);
    const drafted = revisions[0]?.plan ?? plan;
    const proposedNode = drafted.nodes.find((node) => node.nodeId === nodeId);
    const currentNode = plan.nodes.find((node) => node.nodeId === nodeId);
    if (!proposedNode && !currentNode) throw new PlanError('not-found', `Plan run ${runId} has no step "${nodeId}".`);
    const state = run.nodes.find((node) => node.nodeId === nodeId);
    const decided = run.status !== 'pending-approval' && run.startedAt !== null;
    return {
      runId,
      nodeId,
      proposed: proposedNode ? stepViewOf(proposedNode, this.agentEndpoints) : null,
      approved:
        decided && currentNode
          ? {
              revision: run.revision,
              revisionNumber: revisions.at(-1)?.number ?? 1,
              step: stepViewOf(currentNode, this.agentEndpoints),
              approvedBy: (run.approval?.approvals ?? []).map((entry) => ({
                by: entry.by,
                at: entry.at,
                onBehalfOf: entry.onBehalfOf ?? null,
              })),
              verdict: state?.verdict ?? null,
              stepApprovals: state?.approvals ?? [],
            }
          : null,
      effective,
    };
  }

  private async load(runId: string): Promise<{ run: PlanSnapshot; plan: CompiledPlan }> {
    const run = await this.store.runs.getSnapshot(runId);
    const plan = run && (await this.store.runs.getPlan(run.planSpecId));
    if (!run || !plan) throw new PlanError('not-found', `Plan run ${runId} was not found.`);
    return { run, plan };
  }
}
