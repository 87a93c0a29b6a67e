import { type FunctionTool, tool } from '@openai/agents';

import { type PlanToolsOptions, errorAnswerOf, planTools } from './index.js';

/**
 * The plan tools for the OpenAI Agents SDK (`execution-plans/tools/openai-agents`;
 * `@openai/agents` is a peer dependency): `new Agent({ tools: openAiAgentsTools(), … })`. The
 * schemas are not strict (a draft is open-ended); the tools validate their arguments themselves.
 */
export function openAiAgentsTools(options: PlanToolsOptions = {}): FunctionTool[] {
  return planTools(options).map(
    (plan) =>
      tool({
        name: plan.name,
        description: plan.description,
        // Non-strict, as the SDK types it (additionalProperties true); unknown arguments are refused by the tool itself.
        parameters: {
          type: 'object',
          properties: plan.jsonSchema.input.properties as Record<string, never>,
          required: (plan.jsonSchema.input.required as string[] | undefined) ?? [],
          additionalProperties: true,
        },
        strict: false,
        execute: async (args) => plan.execute(args),
        // The model reads the refusal as the API words it (the SDK would otherwise hide it).
        errorFunction: (_context, error) => JSON.stringify(errorAnswerOf(error)),
      }) as FunctionTool,
  );
}
