/**
 * Why a request was refused. Each code maps to one HTTP status and one CLI exit code, and is
 * also the `type` of the ApplicationFailure a workflow throws, so a refusal keeps its meaning
 * from the workflow's validator through the client, the API and the CLI.
 */
export const PLAN_ERROR_CODES = {
  'invalid-input': 400,
  unauthorized: 401,
  forbidden: 403,
  'wrong-organization': 403,
  'wrong-thread': 403,
  /** The approval gate: this principal may not take this decision (requester, agent, not an approver, not the assignee). */
  'not-eligible': 403,
  'not-found': 404,
  'not-pending': 409,
  'not-active': 409,
  'not-waiting': 409,
  /** The decision was made on another revision of the plan than the run's (or on a replaced run). */
  'stale-revision': 409,
  'too-large': 413,
  /** Too many requests from one token (or, without one, one address) in a minute: try again after `Retry-After`. */
  'rate-limited': 429,
  unavailable: 503,
} as const;

export type PlanErrorCode = keyof typeof PLAN_ERROR_CODES;

export class PlanError extends Error {
  constructor(
    readonly code: PlanErrorCode,
    message: string,
    readonly issues?: ValidationIssue[],
  ) {
    super(message);
    this.name = 'PlanError';
  }

  get httpStatus(): number {
    return PLAN_ERROR_CODES[this.code];
  }

  /** The refusal as every answer carries it (the API's body, a tool's error): `{error: {code, message, issues?}}`. */
  toBody(): { error: { code: PlanErrorCode; message: string; issues?: ValidationIssue[] } } {
    return { error: { code: this.code, message: this.message, ...(this.issues ? { issues: this.issues } : {}) } };
  }
}

export function isPlanErrorCode(value: unknown): value is PlanErrorCode {
  return typeof value === 'string' && value in PLAN_ERROR_CODES;
}

/** A problem found in a draft. Blocking issues refuse the draft; warnings are kept with the spec. */
export interface ValidationIssue {
  code: string;
  message: string;
  nodeId?: string;
}

/** S11: every blocking issue as `code: message`, joined by ` | `. */
export function formatIssues(issues: readonly ValidationIssue[]): string {
  // A message never contains the separator, so the list always splits back into its issues.
  return issues.map((issue) => `${issue.code}: ${issue.message.replaceAll(' | ', ' / ')}`).join(' | ');
}
