import type { ApprovalReason, ApprovalRules, Decider, ExpiryOutcome } from './approval.js';
import { eligibleDeciders } from './approval.js';
import { type ApprovalStage, type MatchedRule, stagesOf } from './approval-stages.js';
import { formatInterval } from './duration.js';

/**
 * A dry run of the approval policy (`plans policy test`, `POST /v1/policy/test`): what a plan
 * would be held to if it were created now, computed by the same admission a create goes
 * through, with nothing stored or started — the `terraform plan` of approvals.
 */
export interface PolicyTrial {
  organizationId: string;
  /** The version tried: the policy in force, or (proposed) the one it would become. */
  policyVersion: number;
  /** Whether the policy tried is a proposal (`plans policy set --dry-run`), not the one in force. */
  proposed: boolean;
  /** The run whose plan was tried, when one was. */
  runId: string | null;
  requester: string;
  needsApproval: boolean;
  reasons: ApprovalReason[];
  matched: MatchedRule[];
  /** In order; who of the organization may approve each now (persons, the requesters left out); null unless an admin asks. */
  stages: Array<ApprovalStage & { eligible: string[] | null }>;
  expiresAfter: string;
  onExpiry: ExpiryOutcome;
  reminders: string[];
  escalations: Array<{ after: string; addApprovers?: string[]; replaceApprovers?: string[] }>;
  standing: boolean;
  /** What the create would be refused for (empty: it would be accepted). */
  problems: string[];
}

/** The trial's answer from the rules a create would freeze, and the organization's directory. */
export function trialOf(
  base: Pick<PolicyTrial, 'organizationId' | 'proposed' | 'runId' | 'requester' | 'problems'>,
  rules: ApprovalRules,
  needsApproval: boolean,
  directory: readonly Decider[] | null,
): PolicyTrial {
  return {
    ...base,
    policyVersion: rules.policyVersion,
    needsApproval,
    reasons: [...(rules.reasons ?? [])],
    matched: rules.matched ?? [],
    stages: stagesOf(rules).map((stage, index) => ({
      ...stage,
      eligible: directory && eligibleDeciders(rules, directory, { stage: index }).map((person) => person.id),
    })),
    expiresAfter: formatInterval(rules.expiresAfterMs),
    onExpiry: rules.onExpiry,
    reminders: (rules.reminderMs ?? []).map(formatInterval),
    escalations: (rules.escalations ?? []).map(({ afterMs, ...change }) => ({ after: formatInterval(afterMs), ...change })),
    standing: rules.standing ?? false,
  };
}

/** The trial in words, a line each, for the terminal. */
export function describeTrial(trial: PolicyTrial): string[] {
  const lines = [
    `${trial.proposed ? 'Under the proposed policy' : `Under policy version ${trial.policyVersion}`}, a plan requested by ${trial.requester}${trial.runId ? ` (as run ${trial.runId})` : ''}:`,
  ];
  if (!trial.needsApproval) lines.push('  runs at once: it needs no approval.');
  else {
    lines.push(`  waits for approval (${trial.reasons.join(', ') || 'asked for'}).`);
    for (const rule of trial.matched) lines.push(`  rule ${rule.rule} matched: ${rule.because.join('; ')} → ${rule.requires}`);
    trial.stages.forEach((stage, index) => {
      const eligible = stage.eligible === null ? '' : ` (now: ${stage.eligible.length > 0 ? stage.eligible.join(', ') : 'NOBODY'})`;
      lines.push(`  ${index + 1}. ${stage.name}: ${stage.required} of ${stage.approvers.join(', ')}${eligible}`);
    });
    if (trial.reminders.length > 0) lines.push(`  reminders after ${trial.reminders.join(', ')} of waiting`);
    for (const escalation of trial.escalations) {
      const change = escalation.replaceApprovers
        ? `${escalation.replaceApprovers.join(', ')} instead`
        : `${escalation.addApprovers!.join(', ')} too`;
      lines.push(`  after ${escalation.after}: escalates to ${change}`);
    }
    lines.push(`  expires after ${trial.expiresAfter}, then ${trial.onExpiry === 'approve' ? 'approved' : 'rejected'} by system`);
    lines.push(`  standing approvals: ${trial.standing ? 'allowed' : 'not allowed'}`);
  }
  for (const problem of trial.problems) lines.push(`  REFUSED: ${problem}`);
  return lines;
}
