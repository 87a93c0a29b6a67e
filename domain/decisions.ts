import type { Credential } from './credentials.js';
import {
  type ApprovalRules,
  type Decider,
  type DecidingRules,
  completerRefusal,
  countedAs,
  deciderRefusal,
  requesterRefusal,
} from './approval.js';
import type { StagePosition } from './approval-stages.js';
import { type RunScope, checkScope } from './context.js';
import { PlanError } from './errors.js';
import { ID_PATTERN, ID_RULE } from './ids.js';
import { standingProblem } from './standing.js';
import { LIMITS, MAX_DEPTH, tooDeepAt } from './limits.js';
import type { CompiledPlan } from './plan.js';
import { type RunStatus, TERMINAL_RUN_STATUSES } from './status.js';

/*
 * Decisions are checked inside the workflow sandbox, which evaluates its modules afresh for
 * every run. zod costs several milliseconds of CPU per run there (measured with `npm run bench`:
 * create+approve throughput 0.6x → 0.75x of the bare workflow without it), so this one payload
 * is checked by hand, with the id and length rules the zod request schemas also use.
 */

export const RESOLUTIONS = ['rejected', 'changes-requested'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export type { CheckedCredential, Credential } from './credentials.js';

/** What a message without a credential is recorded as. */
export const THROUGH_TEMPORAL: Credential = { kind: 'temporal' };

/** A credential's id (a token id, a link's one-time id): the zod contract (requests.ts) uses it too. */
export const CREDENTIAL_ID = /^[A-Za-z0-9_.:-]{1,128}$/;

/** A credential as a payload carries it (from the API), or the problem with it. */
function parseCredential(value: unknown, problems: string[]): Credential | undefined {
  if (value === undefined) return undefined;
  const field = value as { kind?: unknown; id?: unknown; provedBy?: { kind?: unknown; id?: unknown } } | null;
  const idOk = (id: unknown) => typeof id === 'string' && CREDENTIAL_ID.test(id);
  if (field && typeof field === 'object' && field.kind === 'token' && idOk(field.id) && Object.keys(field).length === 2) {
    return { kind: 'token', id: field.id as string };
  }
  const proof = field?.provedBy;
  if (
    field &&
    typeof field === 'object' &&
    field.kind === 'link' &&
    idOk(field.id) &&
    proof &&
    (proof.kind === 'token' || proof.kind === 'subscription') &&
    idOk(proof.id)
  ) {
    return { kind: 'link', id: field.id as string, provedBy: { kind: proof.kind, id: proof.id as string } };
  }
  problems.push('credential must be {kind: "token", id} or {kind: "link", id, provedBy: {kind: "token"|"subscription", id}}');
  return undefined;
}

/** What a checked message's event records as its credential: the one the API set on it, else `temporal`. */
export function credentialOf(message: { credential?: Credential | undefined }): Credential {
  return message.credential ?? THROUGH_TEMPORAL;
}

/** The same for a payload that was refused unchecked: its credential if well formed, else `temporal`. */
export function credentialIn(payload: unknown): Credential {
  const field = typeof payload === 'object' && payload !== null ? (payload as { credential?: unknown }).credential : undefined;
  return parseCredential(field, []) ?? THROUGH_TEMPORAL;
}

/** The payload of every decision, whether sent as an update, a signal, an API call or a CLI command. */
export interface Decision {
  organizationId: string;
  threadId: string;
  emittedBy: string;
  /** Set by the API from the request's credential; absent when sent through Temporal directly. */
  credential?: Credential;
  reason?: string;
  resolution?: Resolution;
  /** The revision the decider saw; refused as `stale-revision` when the run's is another. */
  expectedRevision?: string;
  /**
   * Set by the run's own check, never by a sender (a payload naming it is refused): the delegator
   * the decider decides for, when the decider is not eligible but a person they act for is.
   */
  onBehalfOf?: string;
  /** With an approval: also approve identical plans of the same requester for this long (`30d`; at most 90 days). */
  standing?: string;
}

const ACTOR_KEYS = ['organizationId', 'threadId', 'emittedBy'] as const;
const DECISION_KEYS = new Set([...ACTOR_KEYS, 'credential', 'reason', 'resolution', 'expectedRevision', 'standing']);
/** A plan revision as decisions carry it: the zod contract (requests.ts) uses it too. */
export const REVISION_PATTERN = /^[0-9a-f]{8,64}$/;
const COMPLETION_KEYS = new Set([...ACTOR_KEYS, 'credential', 'nodeId', 'output']);

/** Largest output a person may hand in with a node (as JSON). */
export const MAX_OUTPUT_BYTES = 64 * 1024;

type Parsed<T> = { value: T; problems?: undefined } | { value?: undefined; problems: string[] };

type Actor = Pick<Decision, (typeof ACTOR_KEYS)[number] | 'credential'>;

/** The fields every message from a person carries, with unknown keys refused. */
function parseActor(payload: unknown, allowed: ReadonlySet<string>, problems: string[]): { actor: Actor; fields: Record<string, unknown> } {
  const isObject = typeof payload === 'object' && payload !== null && !Array.isArray(payload);
  const fields = isObject ? (payload as Record<string, unknown>) : {};
  if (!isObject) problems.push(`payload must be an object with ${[...allowed].join(', ')}`);
  for (const key of Object.keys(fields)) if (!allowed.has(key)) problems.push(`unknown field "${key}"`);
  for (const key of isObject ? ACTOR_KEYS : []) {
    const value = fields[key];
    if (value === undefined) problems.push(`${key} is required`);
    else if (typeof value !== 'string' || !ID_PATTERN.test(value)) problems.push(`${key} ${ID_RULE}`);
  }
  const credential = parseCredential(fields.credential, problems);
  const actor = {
    organizationId: fields.organizationId as string,
    threadId: fields.threadId as string,
    emittedBy: fields.emittedBy as string,
    ...(credential ? { credential } : {}),
  };
  return { actor, fields };
}

function parseReason(value: unknown, problems: string[]): string | undefined {
  const reason = typeof value === 'string' ? value.trim() : undefined;
  if (value !== undefined && (reason === undefined || reason.length === 0 || reason.length > LIMITS.maxObjective)) {
    problems.push(`reason must be a non-empty text of at most ${LIMITS.maxObjective} characters`);
  }
  return reason;
}

/** Checks a decision payload; returns it (reason trimmed) or every problem found. */
export function parseDecision(payload: unknown): Parsed<Decision> {
  const problems: string[] = [];
  const { actor, fields } = parseActor(payload, DECISION_KEYS, problems);
  const reason = parseReason(fields.reason, problems);
  const resolution = fields.resolution;
  if (resolution !== undefined && !(RESOLUTIONS as readonly unknown[]).includes(resolution)) {
    problems.push(`resolution must be one of ${RESOLUTIONS.join(', ')}`);
  }
  const expectedRevision = fields.expectedRevision;
  if (expectedRevision !== undefined && (typeof expectedRevision !== 'string' || !REVISION_PATTERN.test(expectedRevision))) {
    problems.push('expectedRevision must be a plan revision (8-64 lower-case hex digits, as `plans get` shows)');
  }
  const standing = fields.standing;
  const standingWrong = standing === undefined ? undefined : standingProblem(standing);
  if (standingWrong) problems.push(standingWrong);
  if (problems.length > 0) return { problems };
  return {
    value: {
      ...actor,
      ...(reason !== undefined ? { reason } : {}),
      ...(resolution !== undefined ? { resolution: resolution as Resolution } : {}),
      ...(expectedRevision !== undefined ? { expectedRevision: expectedRevision as string } : {}),
      ...(standing !== undefined ? { standing: standing as string } : {}),
    },
  };
}

/** A person completes the node waiting for them, with its output. */
export interface NodeCompletion {
  organizationId: string;
  threadId: string;
  emittedBy: string;
  credential?: Credential;
  nodeId: string;
  output?: unknown;
}

/** Checks a node completion payload; returns it or every problem found. */
export function parseNodeCompletion(payload: unknown): Parsed<NodeCompletion> {
  const problems: string[] = [];
  const { actor, fields } = parseActor(payload, COMPLETION_KEYS, problems);
  if (typeof fields.nodeId !== 'string' || fields.nodeId.length === 0 || fields.nodeId.length > 64) {
    problems.push('nodeId must name a node of the plan');
  }
  const deep = tooDeepAt(fields.output, MAX_DEPTH, 'output');
  if (deep) problems.push(`${deep} nests deeper than ${MAX_DEPTH} levels`);
  else if (fields.output !== undefined && JSON.stringify(fields.output).length > MAX_OUTPUT_BYTES) {
    problems.push(`output must be at most ${MAX_OUTPUT_BYTES} bytes of JSON`);
  }
  if (problems.length > 0) return { problems };
  return {
    value: {
      ...actor,
      nodeId: fields.nodeId as string,
      ...(fields.output !== undefined ? { output: fields.output } : {}),
    },
  };
}

/** Someone aborts an active run, with a reason. */
export interface AbortRequest {
  organizationId: string;
  threadId: string;
  emittedBy: string;
  credential?: Credential;
  reason: string;
}

const ABORT_KEYS = new Set([...ACTOR_KEYS, 'credential', 'reason']);

export function parseAbort(payload: unknown): Parsed<AbortRequest> {
  const problems: string[] = [];
  const { actor, fields } = parseActor(payload, ABORT_KEYS, problems);
  const reason = parseReason(fields.reason, problems);
  if (reason === undefined && !problems.some((problem) => problem.startsWith('reason'))) problems.push('reason is required');
  if (problems.length > 0) return { problems };
  return {
    value: { ...actor, reason: reason! },
  };
}

export type DecisionKind = 'approve' | 'reject';

/** Every message people send a run: what a malformed one, or a refused signal, is recorded as. */
export type MessageKind = DecisionKind | 'complete-node' | 'abort';

const NOT_PENDING: Record<DecisionKind, string> = {
  approve: 'Only pending-approval plans can be approved.',
  reject: 'Only pending-approval plans can be rejected.',
};

/** A malformed decision payload, as `invalid-input`. */
export function invalidDecision(kind: MessageKind, problems: string[]): PlanError {
  return new PlanError('invalid-input', `Invalid ${kind} decision: ${problems.join('; ')}.`);
}

/** A message checked against a run: the value to act on, or why not (never both). */
export type Checked<T> = { value: T; refusal?: undefined } | { value?: undefined; refusal: PlanError };

/** What a decision is checked against: where the run lives, where it stands, and (runs under the gate) its rules. */
export type DecidedRun = RunScope & {
  runId: string;
  status: RunStatus;
  revision?: string | null;
  /** The plan's whole hash, which a standing approval is bound to (absent on runs from before). */
  planHash?: string | null;
  replacedByRunId?: string | null;
  /** Absent on runs created before the approval gate: they keep S4's checks only. */
  rules?: DecidingRules | null;
  /** Where its approval stands: the open stage an approval is checked against, and who was counted. */
  approval?: (StagePosition & { approvals?: ReadonlyArray<{ by: string; onBehalfOf?: string | null | undefined }> }) | null;
};

export type { DecidingRules } from './approval.js';

/**
 * S4, then the approval gate, in this order: organization, thread context, a replaced run,
 * status, revision, the requester rule, and — once the decider is looked up (`who`: null when
 * unknown, undefined when not looked up yet, as in an update's validator) — kind and
 * eligibility under the run's rules. Returns the refusal (with its exact message) or the
 * decision to apply. A malformed payload is refused first.
 */
export function checkDecision(run: DecidedRun, payload: unknown, kind: DecisionKind, who?: Decider | null): Checked<Decision> {
  const { value: decision, problems } = parseDecision(payload);
  if (!decision) return { refusal: invalidDecision(kind, problems) };
  if (kind === 'approve' && decision.resolution !== undefined) {
    return { refusal: invalidDecision(kind, ['resolution applies to rejections only']) };
  }
  if (kind === 'reject' && decision.standing !== undefined) {
    return { refusal: invalidDecision(kind, ['standing applies to approvals only']) };
  }
  const refusal = checkScope(run, decision) ?? gateRefusal(run, decision, kind, who) ?? standingRefusal(run, decision);
  if (!refusal) return { value: decision };
  // Not eligible themselves: a person may still decide for someone who delegated to them.
  const delegator = refusal.code === 'not-eligible' && who ? delegatorFor(run, decision, kind, who) : undefined;
  if (delegator && decision.standing !== undefined) {
    return {
      refusal: new PlanError(
        'not-eligible',
        `A delegate cannot grant a standing approval: ${decision.emittedBy} decides for ${delegator}.`,
      ),
    };
  }
  return delegator ? { value: { ...decision, onBehalfOf: delegator } } : { refusal };
}

/** A standing approval is granted only where the run's rules allow one. */
function standingRefusal(run: DecidedRun, decision: Decision): PlanError | undefined {
  if (decision.standing === undefined) return undefined;
  return run.rules?.standing === true && run.planHash
    ? undefined
    : new PlanError('not-eligible', "Standing approvals are not allowed for this plan: its organization's rules forbid them.");
}

/**
 * The first person `who` acts for (an active delegation to them) who may make this decision
 * themselves and has not been counted in this run yet; undefined when none. The delegate must
 * be a person and no requester of the run: a delegation never lets a requester decide.
 */
function delegatorFor(run: DecidedRun, decision: Decision, kind: DecisionKind, who: Decider): string | undefined {
  const { rules } = run;
  if (!rules || who.kind !== 'person' || !who.actsFor || requesterRefusal(rules, decision.emittedBy, kind)) return undefined;
  const counted = new Set((run.approval?.approvals ?? []).flatMap((entry) => [entry.by, countedAs(entry)]));
  return who.actsFor.find(
    (delegator) => !counted.has(delegator.id) && !deciderRefusal(rules, delegator.id, delegator, kind, run.approval ?? undefined),
  )?.id;
}

function gateRefusal(run: DecidedRun, decision: Decision, kind: DecisionKind, who: Decider | null | undefined): PlanError | undefined {
  const { rules } = run;
  if (run.revision && run.replacedByRunId) {
    return new PlanError('stale-revision', `Plan run ${run.runId} was replaced by run ${run.replacedByRunId}; decide that one.`);
  }
  if (run.status !== 'pending-approval') return new PlanError('not-pending', NOT_PENDING[kind]);
  if (run.revision && decision.expectedRevision !== undefined && decision.expectedRevision !== run.revision) {
    return new PlanError(
      'stale-revision',
      `The plan changed since it was shown: revision ${decision.expectedRevision} was decided, the run is at ${run.revision}.`,
    );
  }
  if (!rules) return undefined;
  return who === undefined
    ? requesterRefusal(rules, decision.emittedBy, kind)
    : deciderRefusal(rules, decision.emittedBy, who, kind, run.approval ?? undefined);
}

/**
 * Org, thread context, then the node must actually be waiting for a person; under the gate,
 * once the completer is looked up, a person and the node's assignee (`assigneeOf`).
 */
export function checkNodeCompletion(
  run: RunScope & { nodes: ReadonlyArray<{ nodeId: string; status: string }>; rules?: DecidingRules | null },
  payload: unknown,
  who?: Decider | null,
  assigneeOf: (nodeId: string) => string | undefined = () => undefined,
): Checked<NodeCompletion> {
  const { value, problems } = parseNodeCompletion(payload);
  if (!value) return { refusal: invalidDecision('complete-node', problems) };
  const node = run.nodes.find((candidate) => candidate.nodeId === value.nodeId);
  const refusal =
    checkScope(run, value) ??
    (!node
      ? new PlanError('not-found', `Plan run has no node "${value.nodeId}".`)
      : node.status !== 'awaiting-human'
        ? new PlanError('not-waiting', `Node "${value.nodeId}" is not waiting for a person.`)
        : run.rules && who !== undefined
          ? completerRefusal(assigneeOf(value.nodeId), value.nodeId, value.emittedBy, who)
          : undefined);
  return refusal ? { refusal } : { value };
}

/** Org, thread context, then the run must still be active. */
export function checkAbort(run: RunScope & { status: RunStatus }, payload: unknown): Checked<AbortRequest> {
  const { value, problems } = parseAbort(payload);
  if (!value) return { refusal: invalidDecision('abort', problems) };
  const refusal = checkScope(run, value) ?? notActive(run, 'aborted');
  return refusal ? { refusal } : { value };
}

function notActive(run: { status: RunStatus }, done: string): PlanError | undefined {
  return TERMINAL_RUN_STATUSES.has(run.status) ? new PlanError('not-active', `Only active plans can be ${done}.`) : undefined;
}

/** Replace a run (S8): it is aborted and `newRunId` starts with the new plan, compiled by the client. */
export interface ReplaceRequest {
  organizationId: string;
  threadId: string;
  leadAgentId: string;
  createdByAgentId?: string;
  reason: string;
  requireApproval?: boolean;
  newRunId: string;
  plan: CompiledPlan;
  /** What the sender signed in with (set by the API): the replaced run's abort records it. */
  credential?: Credential;
  /**
   * The replacement's revision, and the approval rules the client computed for it under the
   * current policy: a proposal only. The replaced run derives the rules it is held to from its
   * own frozen ones (approval-conditions.ts `replacementRules`), so a sender cannot loosen them.
   */
  revision?: string;
  rules?: ApprovalRules;
}

/**
 * A replacement's shape (the client sends a compiled plan; one typed by hand, e.g. in the
 * `temporal` CLI, gets this check), then org, thread context, and the run must still be active.
 */
export function checkReplace(run: RunScope & { status: RunStatus }, request: ReplaceRequest): PlanError | undefined {
  const ids = [request?.newRunId, request?.leadAgentId, request?.organizationId, request?.threadId];
  const plan = request?.plan;
  const wellFormed =
    ids.every((id) => typeof id === 'string' && ID_PATTERN.test(id)) &&
    typeof request.reason === 'string' &&
    request.reason.trim().length > 0 &&
    Array.isArray(plan?.nodes) &&
    plan.nodes.length > 0 &&
    typeof plan.title === 'string';
  if (!wellFormed)
    return new PlanError('invalid-input', 'Invalid replace request: use PlansClient.replacePlan, which validates and compiles the draft.');
  return checkScope(run, request) ?? notActive(run, 'replaced');
}
