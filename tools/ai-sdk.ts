import { type Tool, jsonSchema, tool } from 'ai';

import { type PlanToolsOptions, planTools } from './index.js';

/**
 * The plan tools for the Vercel AI SDK (`execution-plans/tools/ai-sdk`; `ai` is a peer
 * dependency): `generateText({ tools: aiSdkTools(), … })`. A refusal is thrown with the API's
 * code in its message, which the SDK hands the model as the tool's error.
 */
export function aiSdkTools(options: PlanToolsOptions = {}): Record<string, Tool> {
  return Object.fromEntries(
    planTools(options).map((plan) => [
      plan.name,
      tool({
        description: plan.description,
        inputSchema: jsonSchema<Record<string, unknown>>(plan.jsonSchema.input),
        outputSchema: jsonSchema<Record<string, unknown>>(plan.jsonSchema.output),
        execute: (args, { abortSignal }) => plan.execute(args, abortSignal ? { signal: abortSignal } : {}),
      }),
    ]),
  );
}
