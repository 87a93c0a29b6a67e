import { type DynamicStructuredTool, tool } from '@langchain/core/tools';

import { type PlanToolsOptions, planTools } from './index.js';

/**
 * The plan tools for LangChain.js and LangGraph (`execution-plans/tools/langchain`;
 * `@langchain/core` is a peer dependency): `createReactAgent({ tools: langChainTools(), … })`.
 * Each answers the tool's result as JSON text.
 */
export function langChainTools(options: PlanToolsOptions = {}): DynamicStructuredTool[] {
  return planTools(options).map(
    (plan) =>
      tool(async (args: unknown) => JSON.stringify(await plan.execute(args)), {
        name: plan.name,
        description: plan.description,
        schema: plan.jsonSchema.input,
      }) as unknown as DynamicStructuredTool,
  );
}
