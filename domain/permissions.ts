import type { Principal } from './principals.js';

/**
 * The organization-wide powers, and who holds each: one table, enforced in one place
 * (`client/organization-plans.ts`, the view every API request acts through). Decisions on a
 * run and a person's steps are not here: the workflow's own rules decide those (DESIGN §9).
 *
 * Each entry says, in words docs/security-model.md's permission table repeats, who may; `allows` is that rule.
 * The mapped type makes a new action without a rule a compile error.
 */
export type Action =
  | 'subscriptions.manage'
  | 'subscriptions.own'
  | 'tokens.manage'
  | 'principals.disable'
  | 'policy.change'
  | 'secrets.manage'
  | 'delegations.create'
  | 'delegations.list-all'
  | 'delegations.revoke'
  | 'standing.list-all'
  | 'standing.revoke'
  | 'doctor.run'
  | 'audit.read'
  | 'audit.keys'
  | 'metrics.read'
  | 'runs.abort'
  | 'runs.replace'
  | 'schedules.pause'
  | 'schedules.resume'
  | 'schedules.delete';

/** What a rule may need to know of the thing acted on. */
export interface Subject {
  /** The agent that requested the run (`createdByAgentId`). */
  requestedBy?: string | null;
  /** Who paused the schedule, when it is paused. */
  pausedBy?: string | null;
  /** Whose standing approval it is. */
  approvedBy?: string | null;
  /** Whom a personal subscription belongs to. */
  ownedBy?: string | null;
  /** The delegator of a delegation: whose approvals it lets another make. */
  delegator?: string | null;
  /** The delegate of a delegation. */
  delegate?: string | null;
}

interface Rule {
  /** Who may, as docs/security-model.md's permission table says it. */
  who: string;
  /** What is refused, for the error message: "Only <who> may <what>". */
  what: string;
  allows(principal: Principal, subject: Subject): boolean;
}

/** Admin is a person's role (an agent or service given it before that rule is no admin). */
const isAdmin = (principal: Principal) => principal.kind === 'person' && principal.roles.includes('admin');
const isApprover = (principal: Principal) => principal.roles.includes('approver');
const isPerson = (principal: Principal) => principal.kind === 'person';

export const PERMISSIONS: { readonly [A in Action]: Rule } = {
  'subscriptions.manage': {
    who: 'an admin',
    what: "manage the organization's webhook subscriptions (they receive every event)",
    allows: isAdmin,
  },
  'subscriptions.own': {
    who: 'a person, for themselves (or an admin)',
    what: 'manage this personal subscription',
    allows: (principal, { ownedBy }) => isAdmin(principal) || (isPerson(principal) && (ownedBy === undefined || ownedBy === principal.id)),
  },
  'tokens.manage': { who: 'an admin', what: 'manage API tokens', allows: isAdmin },
  'principals.disable': { who: 'an admin', what: 'disable or enable a principal', allows: isAdmin },
  'policy.change': { who: 'an admin', what: 'change the approval policy', allows: isAdmin },
  'secrets.manage': { who: 'an admin', what: "set, list or delete the organization's secrets", allows: isAdmin },
  'delegations.create': {
    who: 'a person, for themselves (an admin, for any person)',
    what: "delegate this person's approvals",
    allows: (principal, { delegator }) =>
      isAdmin(principal) || (isPerson(principal) && (delegator === undefined || delegator === principal.id)),
  },
  'delegations.list-all': {
    who: 'an admin',
    what: "list all the organization's delegations (a person lists those from or to them)",
    allows: isAdmin,
  },
  'delegations.revoke': {
    who: 'its delegator, its delegate or an admin',
    what: 'revoke this delegation',
    allows: (principal, { delegator, delegate }) =>
      isAdmin(principal) || (isPerson(principal) && (principal.id === delegator || principal.id === delegate)),
  },
  'standing.list-all': {
    who: 'an admin',
    what: "list all the organization's standing approvals (a person lists their own)",
    allows: isAdmin,
  },
  'standing.revoke': {
    who: 'the person who gave it or an admin',
    what: 'revoke this standing approval',
    allows: (principal, { approvedBy }) => isAdmin(principal) || (isPerson(principal) && principal.id === approvedBy),
  },
  'doctor.run': { who: 'an admin', what: 'run the doctor over stored runs', allows: isAdmin },
  'audit.read': { who: 'an admin', what: "export or verify the organization's audit chain", allows: isAdmin },
  'audit.keys': { who: 'an admin', what: "rotate the organization's audit signing key", allows: isAdmin },
  'metrics.read': { who: 'an admin', what: "read the organization's metrics (GET /metrics)", allows: isAdmin },
  'runs.abort': {
    who: 'a person, a service, or the agent that requested the run',
    what: 'abort this run',
    allows: (principal, { requestedBy }) => principal.kind !== 'agent' || requestedBy === principal.id,
  },
  'runs.replace': {
    who: 'a person, a service, or the agent that requested the run',
    what: 'replace this run',
    allows: (principal, { requestedBy }) => principal.kind !== 'agent' || requestedBy === principal.id,
  },
  'schedules.pause': { who: 'a person', what: 'pause a schedule', allows: isPerson },
  'schedules.resume': {
    who: 'the person who paused it, an approver or an admin',
    what: 'resume this schedule',
    allows: (principal, { pausedBy }) =>
      isPerson(principal) && (isAdmin(principal) || isApprover(principal) || (pausedBy != null && pausedBy === principal.id)),
  },
  'schedules.delete': {
    who: 'a person who is an approver or an admin',
    what: 'delete a schedule',
    allows: (principal) => isPerson(principal) && (isAdmin(principal) || isApprover(principal)),
  },
};

/** Whether `principal` may take `action` on `subject`: `undefined` when it may, else why not. */
export function refusal(principal: Principal, action: Action, subject: Subject = {}): string | undefined {
  const rule = PERMISSIONS[action];
  if (rule.allows(principal, subject)) return undefined;
  return `Only ${rule.who} may ${rule.what}; ${principal.id} (${principal.kind}${principal.roles.length ? `, ${principal.roles.join(', ')}` : ''}) may not.`;
}
