/*
 * Where a pending run stands in its approval: which stage is open, who may approve in it now
 * (its escalations applied), and which timers (reminders, escalations) are still to fire. Pure
 * and free of zod: the workflow asks it for every decision and every timer (docs/DESIGN.md §9.4).
 */

/** One stage of a run's approval: `required` distinct persons among `approvers` approve it before the next opens. */
export interface ApprovalStage {
  name: string;
  /** Principal ids and `role:NAME` selectors. */
  approvers: string[];
  required: number;
}

/** What happens to the open stage when it has waited `afterMs`: more people may approve it, or others instead. */
export interface Escalation {
  afterMs: number;
  addApprovers?: string[];
  replaceApprovers?: string[];
}

/** A rule of the organization's policy that matched the plan, and why, in words. */
export interface MatchedRule {
  rule: string;
  because: string[];
  /** What it required, in words ("2 approvals", "stages team lead → finance"). */
  requires: string;
}

/** The frozen rules a stage is read from. */
export interface StagedRules {
  /** The organization's approvers: the one stage of a run without `stages`. */
  approvers: string[];
  required: number;
  stages?: ApprovalStage[];
  reminderMs?: number[];
  escalations?: Escalation[];
}

/** The gate's state a stage is read from. */
export interface StagePosition {
  /** The open stage's index (absent: 0). */
  stage?: number;
  /** When it opened (absent: when the run was created). */
  stageOpenedAt?: string;
  /** Escalations of the open stage applied so far. */
  escalated?: number;
  /** Reminders of the open stage sent so far. */
  reminded?: number;
}

/** The stage name of a run whose policy names none. */
export const SINGLE_STAGE = 'approval';

/** The stages of a run: its rules' own, or the one its organization's approvers make. */
export function stagesOf(rules: StagedRules): ApprovalStage[] {
  return rules.stages && rules.stages.length > 0
    ? rules.stages
    : [{ name: SINGLE_STAGE, approvers: rules.approvers, required: rules.required }];
}

/** The open stage, with who may approve in it now: its approvers, then each applied escalation's change. */
export function openStage(rules: StagedRules, position: StagePosition | undefined): ApprovalStage & { index: number; of: number } {
  const stages = stagesOf(rules);
  const index = Math.min(position?.stage ?? 0, stages.length - 1);
  const stage = stages[index]!;
  let approvers = [...stage.approvers];
  for (const escalation of (rules.escalations ?? []).slice(0, position?.escalated ?? 0)) {
    if (escalation.replaceApprovers) approvers = [...escalation.replaceApprovers];
    if (escalation.addApprovers) approvers = [...new Set([...approvers, ...escalation.addApprovers])];
  }
  return { ...stage, approvers, index, of: stages.length };
}

/** Everyone any stage or escalation names: who may reject (an eligible rejection at any stage ends the run). */
export function everyStageApprover(rules: StagedRules): string[] {
  return [
    ...new Set([
      ...rules.approvers,
      ...stagesOf(rules).flatMap((stage) => stage.approvers),
      ...(rules.escalations ?? []).flatMap((escalation) => [...(escalation.addApprovers ?? []), ...(escalation.replaceApprovers ?? [])]),
    ]),
  ];
}

/** A reminder or an escalation of the open stage, due at `at`. */
export interface ApprovalTimer {
  kind: 'reminder' | 'escalation';
  /** Its place in the rules' `reminderMs` or `escalations`. */
  index: number;
  stage: number;
  at: string;
}

/**
 * The open stage's timers still to fire, counted from when it opened: the reminders not yet
 * sent and the escalations not yet applied, each once, soonest first.
 */
export function pendingTimers(rules: StagedRules, position: StagePosition | undefined, createdAt: string): ApprovalTimer[] {
  const stage = position?.stage ?? 0;
  const from = Date.parse(position?.stageOpenedAt ?? createdAt);
  const at = (ms: number) => new Date(from + ms).toISOString();
  const reminders = (rules.reminderMs ?? [])
    .map((ms, index) => ({ kind: 'reminder' as const, index, stage, at: at(ms) }))
    .slice(position?.reminded ?? 0);
  const escalations = (rules.escalations ?? [])
    .map((escalation, index) => ({ kind: 'escalation' as const, index, stage, at: at(escalation.afterMs) }))
    .slice(position?.escalated ?? 0);
  return [...reminders, ...escalations].sort((a, b) => a.at.localeCompare(b.at));
}

/** "3 h", "2 d", "45 min": how long until `at`, roughly, for people. */
export function roughlyUntil(at: string, now: string): string {
  const ms = Math.max(0, Date.parse(at) - Date.parse(now));
  if (ms >= 2 * 86_400_000) return `${Math.round(ms / 86_400_000)} d`;
  if (ms >= 2 * 3_600_000) return `${Math.round(ms / 3_600_000)} h`;
  return `${Math.max(1, Math.round(ms / 60_000))} min`;
}

/**
 * Where a pending run's approval stands, in words, for the Web UI, the inbox and `plans get`:
 * the open stage (of how many), who approves it and how many have, then what comes next
 * ("Escalates to role:admin in 3 h.", "Reminds role:lead in 4 h.").
 */
export function describeStageWait(
  rules: StagedRules,
  position: StagePosition & { approvals: ReadonlyArray<{ stage?: number }> },
  createdAt: string,
  now: string,
): string {
  const stage = openStage(rules, position);
  const done = position.approvals.filter((entry) => (entry.stage ?? 0) === stage.index).length;
  const named = stage.of > 1 ? `${stage.name} (stage ${stage.index + 1} of ${stage.of})` : 'approval';
  const words = [`Waiting for ${named}: ${done} of ${stage.required} by ${stage.approvers.join(', ')}.`];
  const [next] = pendingTimers(rules, position, createdAt);
  if (next?.kind === 'escalation') {
    const escalation = rules.escalations![next.index]!;
    const to = escalation.replaceApprovers ?? escalation.addApprovers!;
    words.push(`Escalates to ${to.join(', ')} in ${roughlyUntil(next.at, now)}.`);
  } else if (next) words.push(`Reminds ${stage.approvers.join(', ')} in ${roughlyUntil(next.at, now)}.`);
  return words.join(' ');
}
