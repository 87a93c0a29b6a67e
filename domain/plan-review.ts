import type { ApprovalReason, Decider, DecidingRules } from './approval.js';
import { decidingThreadOf } from './context.js';
import { type DecidedRun, type DecisionKind, checkDecision, checkNodeCompletion } from './decisions.js';
import type { Executor } from './draft.js';
import { maskExecutor, maskUrl, shownUrl } from './masking.js';
import { isWebhook } from './webhook.js';
import { internalReason } from './egress.js';
import { formatInterval } from './duration.js';
import type { CompiledNode, CompiledPlan } from './plan.js';
import { type PlanSnapshot, decidingRulesOf } from './snapshot.js';

/*
 * What a person sees of a plan before deciding it or doing one of its steps: every step in
 * full, with secrets masked and calls leaving the system named, and whether they may act.
 * Pure, so the API, the CLI and the tests read one definition of each.
 */

export { MASK, isSecretName, literalCredentials, maskExecutor, maskHeaders, maskUrl, shownUrl } from './masking.js';

/** A step whose work leaves the system: a webhook, or an agent served over HTTP. */
export interface ExternalCall {
  kind: 'webhook' | 'http-agent';
  method: 'POST';
  /** Masked as in `maskUrl`; a secret URL by its name (`shownUrl`). */
  url: string;
  /** Why the call reaches inside the organization's network (`internalReason`), for the reviewer to weigh; null otherwise. */
  internal: string | null;
}

/** Agent ids served over HTTP, and where (`PLANS_HTTP_AGENTS`). */
export type AgentEndpoints = Readonly<Record<string, string>>;

export function externalCallOf(executor: Executor, agentEndpoints: AgentEndpoints): ExternalCall | null {
  if (isWebhook(executor))
    return {
      kind: 'webhook',
      method: 'POST',
      url: shownUrl(executor.url),
      internal: typeof executor.url === 'string' ? internalReason(executor.url) : null,
    };
  const endpoint = executor.type === 'agent' ? agentEndpoints[executor.agentId] : undefined;
  // The operator's own endpoint: where it is, is the operator's choice, not flagged.
  return endpoint ? { kind: 'http-agent', method: 'POST', url: maskUrl(endpoint), internal: null } : null;
}

/** A step in full, durations in the draft's notation, secrets masked. */
export interface StepView {
  nodeId: string;
  title: string;
  instructions: string | null;
  executor: Executor;
  dependsOn: string[];
  optional: boolean;
  retry: { maxAttempts: number; initialInterval: string; backoffCoefficient: number; maximumInterval: string };
  /** Longest one attempt may take. */
  timeout: string;
  /** Counted from the step's start: when it is missed, when it warns, whether missing it fails the attempt. */
  deadline: { after: string; warnAt: string | null; cancel: boolean } | null;
  external: ExternalCall | null;
  /** `before-run`: it waits for a decision at the moment it would start. */
  approval: 'before-run' | null;
}

/** A compiled step as people read it; `executor` unmasked when `masked` is false (the diff compares real values). */
export function stepViewOf(node: CompiledNode, agentEndpoints: AgentEndpoints = {}, masked = true): StepView {
  const { retry, deadline } = node.policy;
  return {
    nodeId: node.nodeId,
    title: node.title,
    instructions: node.instructions ?? null,
    executor: masked ? maskExecutor(node.executor) : node.executor,
    dependsOn: [...node.dependsOn],
    optional: node.policy.optional,
    retry: {
      maxAttempts: retry.maxAttempts,
      initialInterval: formatInterval(retry.initialIntervalMs),
      backoffCoefficient: retry.backoffCoefficient,
      maximumInterval: formatInterval(retry.maximumIntervalMs),
    },
    timeout: formatInterval(node.policy.timeoutMs),
    deadline: deadline
      ? {
          after: formatInterval(deadline.afterMs),
          warnAt: deadline.warnAtMs === undefined ? null : formatInterval(deadline.warnAtMs),
          cancel: deadline.cancel,
        }
      : null,
    external: externalCallOf(node.executor, agentEndpoints),
    approval: node.approval ?? null,
  };
}

/** Every step of a plan and, apart, the calls it makes outside the system (for the top of the page). */
export function stepsOf(
  plan: CompiledPlan,
  agentEndpoints: AgentEndpoints = {},
): { steps: StepView[]; externalCalls: Array<ExternalCall & { nodeId: string; title: string }> } {
  const steps = plan.nodes.map((node) => stepViewOf(node, agentEndpoints));
  const externalCalls = steps.flatMap((step) => (step.external ? [{ nodeId: step.nodeId, title: step.title, ...step.external }] : []));
  return { steps, externalCalls };
}

/** Whether a person may act, and in words why not (or what their earlier approval counts for). */
export interface Outlook {
  may: boolean;
  why: string | null;
}

/** The gate's rules a stored run carries (its snapshot's `approval`), as the decision checks read them. */
function rulesOf(run: PlanSnapshot): DecidingRules | null {
  return run.approval ? decidingRulesOf(run.approval) : null;
}

/**
 * Why a run waits for approval, as its snapshot's `approval.reasons` says: the conditions of the
 * organization's policy that held for it. Null when it needs no approval or predates the record.
 */
export function approvalReasonsOfRun(run: Pick<PlanSnapshot, 'approval'>): ApprovalReason[] | null {
  return run.approval?.reasons ? [...run.approval.reasons] : null;
}

function decidedRunOf(run: PlanSnapshot): DecidedRun {
  return { ...run, rules: rulesOf(run) };
}

/** Lower-cases a refusal's first letter to continue a sentence ("You cannot approve: the requester …"). */
function continuing(message: string): string {
  return /^[A-Z][a-z]/.test(message) ? `${message[0]!.toLowerCase()}${message.slice(1)}` : message;
}

/**
 * Whether `who` may approve or reject `run` now, by the same checks the workflow applies (from
 * the run's deciding thread, on the revision shown). A person who already approved may still
 * veto; the answer says their approval is counted.
 */
export function decisionOutlook(run: PlanSnapshot, who: Decider, verb: DecisionKind = 'approve'): Outlook {
  const payload = {
    organizationId: run.organizationId,
    threadId: decidingThreadOf(run),
    emittedBy: who.id,
    ...(run.revision ? { expectedRevision: run.revision } : {}),
  };
  const { refusal } = checkDecision(decidedRunOf(run), payload, verb, who);
  if (refusal) return { may: false, why: `You cannot ${verb}: ${continuing(refusal.message)}` };
  if (verb === 'reject') return { may: true, why: null };
  const mine = run.approval?.approvals.find((entry) => entry.by === who.id);
  if (mine)
    return {
      may: true,
      why: `Your approval is counted (${run.approval!.approvals.length} of ${run.approval!.required}); you may still reject.`,
    };
  return { may: true, why: null };
}

/** Whether `who` may approve (or skip) the held step `nodeId` of `run` now, by the workflow's checks. */
export function stepOutlook(run: PlanSnapshot, nodeId: string, who: Decider): Outlook {
  const node = run.nodes.find((candidate) => candidate.nodeId === nodeId);
  if (node?.status !== 'awaiting-approval') return { may: false, why: 'You cannot decide this step: it is not waiting for a decision.' };
  const payload = {
    organizationId: run.organizationId,
    threadId: decidingThreadOf(run),
    emittedBy: who.id,
    steps: { [nodeId]: 'approve' },
    ...(run.revision ? { expectedRevision: run.revision } : {}),
  };
  const { refusal } = checkDecision(decidedRunOf(run), payload, 'approve', who);
  if (refusal) return { may: false, why: `You cannot decide this step: ${continuing(refusal.message)}` };
  const counted = node.approvals.some((entry) => entry.by === who.id || entry.onBehalfOf === who.id);
  return counted
    ? { may: true, why: `Your approval of this step is counted (${node.approvals.length}); you may still skip it if it is optional.` }
    : { may: true, why: null };
}

/** Whether `who` may complete `nodeId` of `run` now, by the workflow's checks (status, assignee, kind). */
export function completionOutlook(run: PlanSnapshot, nodeId: string, assignee: string | undefined, who: Decider): Outlook {
  const payload = { organizationId: run.organizationId, threadId: decidingThreadOf(run), emittedBy: who.id, nodeId };
  // Runs made under the gate carry a revision with their rules: one that needs no approval shows
  // no approval view, yet its steps obey their assignees all the same.
  const rules = rulesOf(run) ?? (run.revision ? { requesters: [], approvers: [], required: 1 } : null);
  const { refusal } = checkNodeCompletion({ ...run, rules }, payload, who, () => assignee);
  return refusal ? { may: false, why: `You cannot complete this step: ${continuing(refusal.message)}` } : { may: true, why: null };
}
