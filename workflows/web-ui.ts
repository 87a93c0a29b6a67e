import type { CompiledNode } from '../domain/plan.js';
import type { RunState } from '../domain/run-state.js';

/** The Web UI's current details of a run: its status and who must act. */
export function describeWaiting(state: RunState, nodes: ReadonlyMap<string, CompiledNode>): string {
  const lines = [`**Status:** ${state.status}`];
  if (state.status === 'pending-approval') {
    const from = state.sourceThreadId ? ` or its source thread ${state.sourceThreadId}` : '';
    lines.push(`Waiting for a person in thread ${state.threadId}${from} to approve or reject.`);
  }
  const waiting = state.nodes.filter((node) => node.status === 'awaiting-human');
  for (const node of waiting) {
    const spec = nodes.get(node.nodeId)!;
    const who = spec.executor.type === 'human' ? (spec.executor.assignee ?? 'a person') : 'a person';
    lines.push(`Waiting for ${who} to complete node "${spec.title}" (${node.nodeId}).`);
  }
  const running = state.nodes.filter((node) => node.status === 'running').map((node) => node.nodeId);
  if (running.length > 0) lines.push(`Running: ${running.join(', ')}.`);
  return lines.join('\n\n');
}
