import { ApiClient, DEFAULT_API_URL } from '../cli/api-client.js';
import { PlanError } from '../domain/errors.js';
import { inboxUrlOf } from '../mcp/resources.js';
import { PLAN_TOOL_LIST, type PlanTool, type ToolAnnotations, jsonSchemasOf, runTool } from './plan-tools.js';

/*
 * The plan tools for agent SDKs (`execution-plans/tools`): the definitions the MCP server lists —
 * name, description, zod input and output, annotations — bound to the plans API as one agent.
 * Adapters for the Vercel AI SDK, the OpenAI Agents SDK and LangChain.js are their own subpaths
 * (`/tools/ai-sdk`, `/tools/openai-agents`, `/tools/langchain`), so nobody installs an SDK they do not use.
 */

export { PLAN_TOOLS, PLAN_TOOL_LIST, type PlanTool, type ToolAnnotations, type ToolName } from './plan-tools.js';
export { PlanAnswerSchema, type PlanAnswer } from './plan-answers.js';

export interface PlanToolsOptions {
  /** The plans HTTP API (default: PLANS_API_URL, else http://127.0.0.1:8787, where `plans start` serves it). */
  apiUrl?: string;
  /** The agent's API token (default: PLANS_TOKEN). */
  token?: string;
  /** Where people reach the inbox (default: PLANS_PUBLIC_URL, else the API). */
  publicUrl?: string;
}

/** A plan tool bound to the API as one agent: call `execute` with its arguments. */
export interface BoundPlanTool extends Pick<PlanTool, 'name' | 'title' | 'description' | 'annotations'> {
  inputSchema: PlanTool['input'];
  outputSchema: PlanTool['output'];
  /** The same schemas as JSON Schema (what MCP lists): for SDKs that take JSON Schema. */
  jsonSchema: ReturnType<typeof jsonSchemasOf>;
  /** Validates the arguments (a PlanError naming each bad one), then acts; refusals are PlanErrors with the API's code. */
  execute(args: unknown, options?: { signal?: AbortSignal }): Promise<Record<string, unknown>>;
}

export function planTools(options: PlanToolsOptions = {}): BoundPlanTool[] {
  const apiUrl = options.apiUrl ?? (process.env.PLANS_API_URL || DEFAULT_API_URL);
  const token = options.token ?? process.env.PLANS_TOKEN;
  const publicUrl = options.publicUrl ?? (process.env.PLANS_PUBLIC_URL || apiUrl);
  const api = new ApiClient(apiUrl, token);
  const inboxUrl = (runId: string) => inboxUrlOf(publicUrl, runId);
  return PLAN_TOOL_LIST.map((tool) => ({
    name: tool.name,
    title: tool.title,
    description: tool.description,
    annotations: tool.annotations,
    inputSchema: tool.input,
    outputSchema: tool.output,
    jsonSchema: jsonSchemasOf(tool),
    execute: (args, { signal } = {}) => runTool(tool.name, args, { api, inboxUrl, signal }),
  }));
}

export type { ToolAnnotations as PlanToolAnnotations };
export { PlanError };

/** A tool's failure as the API words a refusal, `{error: {code, message}}` (anything unexpected is `internal`). */
export function errorAnswerOf(error: unknown): { error: { code: string; message: string } } {
  if (error instanceof PlanError) return error.toBody();
  return { error: { code: 'internal', message: error instanceof Error ? error.message : String(error) } };
}
