/** Draft builders for tests. */
export function linearDraft(nodeCount = 3, extra: Record<string, unknown> = {}) {
  return {
    title: 'Quarterly review',
    objective: 'Review the quarter and report.',
    nodes: Array.from({ length: nodeCount }, (_, index) => ({
      id: `step-${index + 1}`,
      title: `Step ${index + 1}`,
      executor: { type: 'system', action: 'noop' },
    })),
    ...extra,
  };
}

export function diamondDraft() {
  return {
    title: 'Diamond',
    objective: 'Fan out and join.',
    nodes: [
      { id: 'start', title: 'Start', executor: { type: 'agent', agentId: 'planner' }, instructions: 'Plan it.' },
      { id: 'left', title: 'Left', executor: { type: 'system', action: 'noop' }, dependsOn: ['start'] },
      { id: 'right', title: 'Right', executor: { type: 'human', assignee: 'alice' }, dependsOn: ['start'] },
      { id: 'join', title: 'Join', executor: { type: 'system', action: 'noop' }, dependsOn: ['left', 'right'] },
    ],
  };
}
