import { type WrittenDraft, draftOf } from '../domain/draft-of.js';
import type { ApprovalReason, Decider } from '../domain/approval.js';
import { PlanError } from '../domain/errors.js';
import { type PlanDiff, diffPlans } from '../domain/plan-diff.js';
import {
  type AgentEndpoints,
  type ExternalCall,
  type Outlook,
  type StepView,
  approvalReasonsOfRun,
  completionOutlook,
  decisionOutlook,
  stepsOf,
} from '../domain/plan-review.js';
import type { CompiledPlan } from '../domain/plan.js';
import type { ArtifactRecord } from '../domain/run-state.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import type { PlanStore } from '../storage/plan-store.js';

/** A replacement's changes against the run it replaced; `diff` is null for a run that replaced none. */
export interface PlanDiffView {
  runId: string;
  revision: string | null;
  replacedRunId: string | null;
  replacedRevision: string | null;
  diff: PlanDiff | null;
}

/** A step waiting for a person, with what it reviews: the outputs of the steps it depends on. */
export interface WaitingStepView {
  nodeId: string;
  title: string;
  instructions: string | null;
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

/** A run's plan as a draft: `plans get RUN --draft`, `GET /v1/plans/:runId/draft`. */
export interface DraftView {
  runId: string;
  revision: string | null;
  draft: WrittenDraft;
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
  ) {}

  /** The run as `viewer` reviews it. Throws `not-found` for an unknown run. */
  async review(runId: string, principal: Decider): Promise<PlanReview> {
    const { run, plan } = await this.load(runId);
    // Whom the viewer acts for by delegation counts too, as the workflow will count it.
    const viewer = await this.store.actingFor(run.organizationId, principal);
    const { steps, externalCalls } = stepsOf(plan, this.agentEndpoints);
    const byId = new Map(run.nodes.map((node) => [node.nodeId, node]));
    const waitingNodes = plan.nodes.filter((node) => byId.get(node.nodeId)?.status === 'awaiting-human');
    const upstreamIds = waitingNodes.flatMap((node) => node.dependsOn.flatMap((id) => byId.get(id)?.artifactIds ?? []));
    const artifacts = new Map((await this.store.runs.getArtifacts(upstreamIds)).map((artifact) => [artifact.artifactId, artifact]));
    const waiting = waitingNodes.map((node) => {
      const assignee = node.executor.type === 'human' ? node.executor.assignee : undefined;
      return {
        nodeId: node.nodeId,
        title: node.title,
        instructions: node.instructions ?? null,
        assignee: assignee ?? null,
        you: completionOutlook(run, node.nodeId, assignee, viewer),
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

  /** What a replacement changed against the run it replaced. Throws `not-found` for an unknown run. */
  async diff(runId: string): Promise<PlanDiffView> {
    const { run, plan } = await this.load(runId);
    const none = { runId, revision: run.revision, replacedRunId: run.replacedRunId, replacedRevision: null, diff: null };
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

  private async load(runId: string): Promise<{ run: PlanSnapshot; plan: CompiledPlan }> {
    const run = await this.store.runs.getSnapshot(runId);
    const plan = run && (await this.store.runs.getPlan(run.planSpecId));
    if (!run || !plan) throw new PlanError('not-found', `Plan run ${runId} was not found.`);
    return { run, plan };
  }
}
