import type { Credential } from './credentials.js';
import { ID_PATTERN, ID_RULE } from './ids.js';
import { LIMITS, MAX_DEPTH, tooDeepAt } from './limits.js';
import { standingProblem } from './standing.js';

/*
 * Decisions are checked inside the workflow sandbox, which evaluates its modules afresh for
 * every run. zod costs several milliseconds of CPU per run there (measured with `npm run bench`:
 * create+approve throughput 0.6x → 0.75x of the bare workflow without it), so these payloads
 * are checked by hand, with the id and length rules the zod request schemas also use.
 */

/* What people send a run — a decision, a step's completion, an abort — and their hand parsers; the checks against a run are decisions.ts. */

export const RESOLUTIONS = ['rejected', 'changes-requested'] as const;
export type Resolution = (typeof RESOLUTIONS)[number];

export type { CheckedCredential, Credential } from './credentials.js';

/** What a message without a credential is recorded as. */
export const THROUGH_TEMPORAL: Credential = { kind: 'temporal' };

/** When a person authenticated at the identity provider, as a sign-in credential carries it (UTC, ISO 8601). */
export const ISO_INSTANT = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,3})?Z$/;

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
  const signIn = field as { authTime?: unknown } | null;
  if (
    field &&
    typeof field === 'object' &&
    field.kind === 'sign-in' &&
    idOk(field.id) &&
    typeof signIn?.authTime === 'string' &&
    ISO_INSTANT.test(signIn.authTime) &&
    Object.keys(field).length === 3
  ) {
    return { kind: 'sign-in', id: field.id as string, authTime: signIn.authTime };
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
  problems.push(
    'credential must be {kind: "token", id}, {kind: "sign-in", id, authTime} or {kind: "link", id, provedBy: {kind: "token"|"subscription", id}}',
  );
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
  /**
   * With an approval: approve the plan with these changes (issue 22) — the whole edited draft, as
   * `plans get RUN --draft` prints it, or a merge patch of it (`patch`, plan-edit.ts
   * `applyPlanPatch`). Validated and admitted like a draft by the run before it counts.
   */
  draft?: Record<string, unknown>;
  patch?: Record<string, unknown>;
  /**
   * Step by step (issue 22): a word on some steps. With the plan's approval, `skip` (an optional
   * step, and what depends on it only through it) or `hold` (it waits for a later decision; the
   * rest runs); later, on a held step, `approve` or `skip`. Steps not named are approved with the plan.
   */
  steps?: Record<string, StepDecision>;
}

export const STEP_DECISIONS = ['approve', 'skip', 'hold'] as const;
export type StepDecision = (typeof STEP_DECISIONS)[number];

const ACTOR_KEYS = ['organizationId', 'threadId', 'emittedBy'] as const;
const DECISION_KEYS = new Set([
  ...ACTOR_KEYS,
  'credential',
  'reason',
  'resolution',
  'expectedRevision',
  'standing',
  'draft',
  'patch',
  'steps',
]);

/** Largest edited draft or patch an approval may carry (as JSON): far above any plan the limits allow, far below Temporal's payload limit. */
export const MAX_EDIT_BYTES = 1024 * 1024;

/** An approval's edit (`draft` or `patch`): an object, not too deep or large; the problem otherwise. */
function editProblem(field: 'draft' | 'patch', value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return `${field} must be an object (${field === 'draft' ? 'the whole edited draft, as `plans get RUN --draft` prints it' : 'a JSON merge patch of the draft'})`;
  const deep = tooDeepAt(value, MAX_DEPTH, field);
  if (deep) return `${deep} nests deeper than ${MAX_DEPTH} levels`;
  return JSON.stringify(value).length > MAX_EDIT_BYTES ? `${field} must be at most ${MAX_EDIT_BYTES} bytes of JSON` : undefined;
}
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

/** A decision's `steps`: step ids to `approve`, `skip` or `hold`; the problem otherwise. */
function stepsProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return 'steps must be an object of step id to approve, skip or hold';
  const entries = Object.entries(value);
  if (entries.length === 0 || entries.length > LIMITS.maxNodes) return `steps must name 1 to ${LIMITS.maxNodes} steps`;
  const wrong = entries.find(
    ([id, decision]) => id.length === 0 || id.length > 64 || !(STEP_DECISIONS as readonly unknown[]).includes(decision),
  );
  return wrong ? `steps.${wrong[0].slice(0, 64)} must be one of ${STEP_DECISIONS.join(', ')}` : undefined;
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
  for (const field of ['draft', 'patch'] as const) {
    const wrong = fields[field] === undefined ? undefined : editProblem(field, fields[field]);
    if (wrong) problems.push(wrong);
  }
  if (fields.draft !== undefined && fields.patch !== undefined) problems.push('give the edit as draft or as patch, not both');
  if (standing !== undefined && (fields.draft !== undefined || fields.patch !== undefined))
    problems.push('standing cannot be given with an edit: a standing approval is for plans identical to the one the requester drafted');
  const steps = fields.steps;
  const stepsWrong = steps === undefined ? undefined : stepsProblem(steps);
  if (stepsWrong) problems.push(stepsWrong);
  if (steps !== undefined && (fields.draft !== undefined || fields.patch !== undefined))
    problems.push('steps cannot be decided with an edit: edit the plan (remove a step, mark it optional), or decide its steps as it is');
  if (steps !== undefined && standing !== undefined)
    problems.push('standing cannot be given with step decisions: a standing approval approves whole plans');
  if (problems.length > 0) return { problems };
  return {
    value: {
      ...actor,
      ...(steps !== undefined ? { steps: { ...(steps as Record<string, StepDecision>) } } : {}),
      ...(reason !== undefined ? { reason } : {}),
      ...(resolution !== undefined ? { resolution: resolution as Resolution } : {}),
      ...(expectedRevision !== undefined ? { expectedRevision: expectedRevision as string } : {}),
      ...(standing !== undefined ? { standing: standing as string } : {}),
      ...(fields.draft !== undefined ? { draft: fields.draft as Record<string, unknown> } : {}),
      ...(fields.patch !== undefined ? { patch: fields.patch as Record<string, unknown> } : {}),
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
