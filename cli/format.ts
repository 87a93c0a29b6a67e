import type { PlanSnapshot } from '../domain/snapshot.js';

/** A run for people: one header line, its nodes, and whatever was included. */
export function formatPlan(plan: PlanSnapshot): string {
  const lines = [
    `${plan.runId}  ${plan.status}  "${plan.title}"`,
    `  org ${plan.organizationId}  thread ${plan.threadId}${plan.sourceThreadId ? `  for thread ${plan.sourceThreadId}` : ''}  lead ${plan.leadAgentId}`,
  ];
  if (plan.readyNodeIds.length > 0) lines.push(`  ready: ${plan.readyNodeIds.join(', ')}`);
  if (plan.scheduleId) lines.push(`  schedule ${plan.scheduleId}, next at ${plan.scheduledAt ?? 'unknown'}`);
  if (plan.replacedRunId) lines.push(`  replaces ${plan.replacedRunId}`);
  if (plan.replacedByRunId) lines.push(`  replaced by ${plan.replacedByRunId}`);
  for (const node of plan.nodes) {
    const deps = node.dependsOn.length > 0 ? ` after ${node.dependsOn.join(', ')}` : '';
    lines.push(`  - ${node.nodeId} [${node.status}] ${node.title} (${node.executor.type})${deps}`);
  }
  for (const event of plan.events ?? []) {
    lines.push(`  #${event.sequence} ${event.createdAt} ${event.eventType} by ${event.emittedBy}: ${event.message}`);
  }
  for (const checkpoint of plan.checkpoints ?? []) {
    lines.push(`  checkpoint ${checkpoint.sequence} ${checkpoint.runStatus} (${checkpoint.snapshot.reason})`);
  }
  return lines.join('\n');
}

export function formatPlanLine(plan: PlanSnapshot): string {
  return `${plan.runId}  ${plan.status.padEnd(16)}  ${plan.threadId}  "${plan.title}"`;
}
