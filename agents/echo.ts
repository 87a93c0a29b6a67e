import type { AgentHandler } from './types.js';

/**
 * A deterministic text agent: answers with the node's instructions and what its upstream
 * nodes produced. Useful to try plans end to end and as the smallest example of a handler.
 */
export const echoAgent: AgentHandler = async ({ node, upstream }) => {
  const inputs = upstream.map((artifact) => `${artifact.nodeId}: ${JSON.stringify(artifact.content)}`);
  const text = [`${node.title}.`, node.instructions ?? '', ...inputs].filter(Boolean).join('\n');
  return { output: { text } };
};
