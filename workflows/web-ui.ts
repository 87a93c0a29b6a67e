import { describeStageWait } from '../domain/approval-stages.js';
import type { CompiledNode } from '../domain/plan.js';
import type { RunState } from '../domain/run-state.js';

/** A signal the run refused: which, from whom, why, when. */
export interface RefusedMessage {
  kind: string;
  by: string;
  because: string;
  at: string;
}

/** The Web UI's current details of a run: its status, who must act, and the last decision it refused. */
export function describeWaiting(state: RunState, nodes: ReadonlyMap<string, CompiledNode>, lastRefused?: RefusedMessage): string {
  const lines = [`**Status:** ${state.status}`];
  if (state.status === 'pending-approval') {
    const from = state.sourceThreadId ? ` or its source thread ${state.sourceThreadId}` : '';
    lines.push(`Waiting for a person in thread ${state.threadId}${from} to approve or reject.`);
    const { approval, rules } = state;
    if (approval && rules) {
      // The open stage's approvals (a run without stages has one stage, so all of them).
      const counted = approval.approvals.filter((entry) => (entry.stage ?? 0) === (approval.stage ?? 0));
      const who = counted.map((entry) => (entry.onBehalfOf ? `${entry.by} for ${entry.onBehalfOf}` : entry.by)).join(', ');
      lines.push(
        `**Approvals:** ${counted.length} of ${approval.required}${who ? ` (${who})` : ''}. Approvers: ${rules.approvers.join(', ')}${rules.narrowedTo ? `, narrowed to ${rules.narrowedTo.join(', ')}` : ''}; never ${rules.requesters.join(', ')}.`,
        `Expires at ${approval.expiresAt}, then ${rules.onExpiry === 'approve' ? 'approved' : 'rejected'} by system. Revision ${state.revision ?? 'unknown'}.`,
      );
      // Runs whose policy routed them (stages, reminders, escalations): where they stand and what comes next.
      if (rules.stages || rules.escalations || rules.reminderMs)
        lines.push(`**Stage:** ${describeStageWait(rules, approval, state.createdAt, new Date().toISOString())}`);
      if (rules.matched && rules.matched.length > 0)
        lines.push(`**Rules:** ${rules.matched.map((rule) => `${rule.rule} (${rule.because.join('; ')}): ${rule.requires}`).join('. ')}.`);
    }
  }
  const waiting = state.nodes.filter((node) => node.status === 'awaiting-human');
  for (const node of waiting) {
    const spec = nodes.get(node.nodeId)!;
    const who = spec.executor.type === 'human' ? (spec.executor.assignee ?? 'a person') : 'a person';
    lines.push(`Waiting for ${who} to complete node "${spec.title}" (${node.nodeId}).`);
  }
  for (const node of state.nodes.filter((candidate) => candidate.status === 'awaiting-approval')) {
    const spec = nodes.get(node.nodeId)!;
    const held = node.verdict?.decision === 'hold' ? `held by ${node.verdict.by}` : 'its draft asks for a decision before it runs';
    lines.push(
      `Step "${spec.title}" (${node.nodeId}) waits for a decision before it runs (${held}): approvePlan with steps {"${node.nodeId}": "approve"} or "skip".`,
    );
  }
  const running = state.nodes.filter((node) => node.status === 'running').map((node) => node.nodeId);
  if (running.length > 0) lines.push(`Running: ${running.join(', ')}.`);
  if (lastRefused)
    lines.push(`**Last refused decision:** ${lastRefused.kind} by ${lastRefused.by} at ${lastRefused.at}, because ${lastRefused.because}`);
  return lines.join('\n\n');
}
