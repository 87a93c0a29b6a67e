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
      { id: 'start', title: 'Start', executor: { type: 'agent', agentId: 'echo' }, instructions: 'Plan it.' },
      { id: 'left', title: 'Left', executor: { type: 'system', action: 'noop' }, dependsOn: ['start'] },
      { id: 'right', title: 'Right', executor: { type: 'human', assignee: 'alice' }, dependsOn: ['start'] },
      { id: 'join', title: 'Join', executor: { type: 'system', action: 'noop' }, dependsOn: ['left', 'right'] },
    ],
  };
}

/** A plan whose first node waits for a person: once approved, the run stops there until completed. */
export function humanFirstDraft() {
  return {
    title: 'Review first',
    objective: 'A person reviews, then the system publishes.',
    nodes: [
      { id: 'review', title: 'Review', executor: { type: 'human', assignee: 'alice' } },
      { id: 'publish', title: 'Publish', executor: { type: 'system', action: 'noop' } },
    ],
  };
}

/** A create request for a plan an agent (`planner`) drafts in thread t-1 on behalf of thread t-9: it waits for approval. */
export function crossThread(draft: unknown = linearDraft(1)) {
  return { threadId: 't-1', sourceThreadId: 't-9', leadAgentId: 'planner', draft };
}
