import { z } from 'zod';

import { ErrorSchema, PolicyTrialSchema } from '../api/answer-schemas.js';
import { PLAN_DRAFT_JSON_SCHEMA } from './draft-schema.js';
import { jsonSchemaOf } from './json-schema.js';
import { pause } from './pause.js';
import { PlanError } from '../domain/errors.js';
import { IdSchema } from '../domain/id-schema.js';
import type { PolicyTrial } from '../domain/policy-trial.js';
import { describeTrial } from '../domain/policy-trial.js';
import { IdempotencyKeySchema, ReasonSchema } from '../domain/requests.js';
import { type PlanSnapshot, summaryOf } from '../domain/snapshot.js';
import { RUN_STATUSES } from '../domain/status.js';
import { type PlanAnswer, PlanAnswerSchema, PlanPageSchema, planAnswerOf } from './plan-answers.js';
import { type PlansApi, pathOf } from './plans-api.js';

/*
 * The plan tools: one definition each — name, description, zod input and output, annotations,
 * and what it does through the plans API — shared by the MCP server (mcp/server.ts) and the
 * agent-SDK adapters (tools/ai-sdk.ts, openai-agents.ts, langchain.ts). Arguments carry the
 * HTTP API's names. No tool decides an approval: people do (inbox, links, CLI, Temporal).
 */

/** What a tool is given besides its arguments. */
export interface ToolContext {
  api: PlansApi;
  /** Where people review and decide a run. */
  inboxUrl(runId: string): string;
  /** Ends a wait early (the host cancelled the call, the session closed). */
  signal?: AbortSignal | undefined;
}

export interface ToolAnnotations {
  readOnlyHint: boolean;
  destructiveHint: boolean;
  idempotentHint: boolean;
  openWorldHint: boolean;
}

export interface PlanTool<I extends z.ZodObject = z.ZodObject, O extends z.ZodObject = z.ZodObject> {
  name: string;
  title: string;
  description: string;
  input: I;
  output: O;
  annotations: ToolAnnotations;
  call(args: z.infer<I>, context: ToolContext): Promise<z.infer<O>>;
}

/** `wait_for_decision` returns within this, whatever it is asked: hosts time a call out around 60 s. */
const WAIT_MAX_SECONDS = 55;
const WAIT_DEFAULT_SECONDS = 50;
/** The largest argument a tool takes, as JSON: what fits in one API request with room to spare (the API takes 1 MB). */
export const MAX_ARGUMENT_BYTES = 768 * 1024;
/** How often a wait looks at the run. */
const WAIT_POLL_MS = 500;

/** The draft: anything JSON here (the API reports every problem of a draft with its code); its JSON Schema tells a model the shape. */
const Draft = z
  .custom<Record<string, unknown>>(
    (value) => typeof value === 'object' && value !== null && !Array.isArray(value),
    'must be an object: the plan draft',
  )
  .meta({
    ...PLAN_DRAFT_JSON_SCHEMA,
    description:
      'The plan draft: title, objective, nodes (steps) with executors and dependsOn; optional schedule, approval, tags, parameters',
  });
const RunId = IdSchema.describe('The run id create_plan answered');
const Thread = (what: string) => IdSchema.describe(what);

const ReadOnly: ToolAnnotations = { readOnlyHint: true, destructiveHint: false, idempotentHint: true, openWorldHint: false };

const ValidationSchema = z.object({
  valid: z.boolean().describe('Whether create_plan would accept it'),
  issues: ErrorSchema.shape.error.shape.issues.unwrap().describe('Every problem, with its code (and step)'),
  policy: PolicyTrialSchema.pick({
    needsApproval: true,
    reasons: true,
    matched: true,
    stages: true,
    expiresAfter: true,
    onExpiry: true,
  })
    .nullable()
    .describe('What the organization’s policy will require of it (null when the draft itself is invalid)'),
  summary: z.string().describe('The same, in words'),
});

async function planAnswer(context: ToolContext, runId: string) {
  const { body } = await context.api.send<PlanSnapshot>('GET', `${pathOf`/v1/plans/${runId}`}?include=approvals`);
  return planAnswerOf(body, context.inboxUrl(body.runId));
}

/** The deciding event's receipt, when someone decided and the record has it. */
async function receiptOf(context: ToolContext, answer: PlanAnswer): Promise<PlanAnswer['receipt']> {
  if (!answer.decidedBy) return null;
  try {
    const { body } = await context.api.send<NonNullable<PlanAnswer['receipt']>>(
      'GET',
      `${pathOf`/v1/plans/${answer.runId}/receipt`}?by=${encodeURIComponent(answer.decidedBy)}`,
    );
    return body;
  } catch {
    return null;
  }
}

async function answered(context: ToolContext, run: Promise<{ body: PlanSnapshot }>) {
  return planAnswer(context, (await run).body.runId);
}

function tool<I extends z.ZodObject, O extends z.ZodObject>(definition: PlanTool<I, O>): PlanTool<I, O> {
  return definition;
}

export const PLAN_TOOLS = {
  validate_plan: tool({
    name: 'validate_plan',
    title: 'Check a plan draft',
    description:
      'Checks a plan draft without storing or starting anything: every problem (with its code and step), and what the organization’s approval policy will require of it (whether it needs approval, why, from whom, how long it may wait). Call it before create_plan; fix the issues it lists.',
    input: z.object({
      draft: Draft,
      threadId: Thread('The thread it would be created in').optional(),
      sourceThreadId: Thread('The thread it is drafted on behalf of (another thread: cross-thread, which needs approval)').optional(),
    }),
    output: ValidationSchema,
    annotations: ReadOnly,
    async call(args, context) {
      let trial: PolicyTrial;
      try {
        trial = (await context.api.send<PolicyTrial>('POST', '/v1/policy/test', args)).body;
      } catch (error) {
        if (!(error instanceof PlanError) || error.code !== 'invalid-input' || !error.issues) throw error;
        return { valid: false, issues: error.issues, policy: null, summary: error.message };
      }
      const { needsApproval, reasons, matched, stages, expiresAfter, onExpiry } = trial;
      return {
        valid: trial.problems.length === 0,
        issues: trial.problems.map((message) => ({ code: 'refused', message })),
        policy: { needsApproval, reasons, matched, stages, expiresAfter, onExpiry },
        summary: describeTrial(trial).join('\n'),
      };
    },
  }),

  create_plan: tool({
    name: 'create_plan',
    title: 'Create a plan run',
    description:
      'Creates a plan run from a draft. A plan the organization’s policy gates (drafted for another thread, calling out, …) waits for people to approve it: the answer says whom it waits for and where they decide; then call wait_for_decision. Give an idempotencyKey so a retried call never makes a second run.',
    input: z.object({
      draft: Draft,
      threadId: Thread('The thread the plan is created in (yours)'),
      sourceThreadId: Thread('The thread it is drafted on behalf of, when another: it then waits for approval').optional(),
      leadAgentId: Thread('The agent that leads the run (usually you)'),
      idempotencyKey: IdempotencyKeySchema.optional(),
    }),
    output: PlanAnswerSchema,
    annotations: { readOnlyHint: false, destructiveHint: false, idempotentHint: false, openWorldHint: true },
    call: (args, context) => answered(context, context.api.send('POST', '/v1/plans', args)),
  }),

  get_plan: tool({
    name: 'get_plan',
    title: 'Read a plan run',
    description: 'A plan run as it stands: its status, the approval decision, its steps, and what happens next.',
    input: z.object({ runId: RunId }),
    output: PlanAnswerSchema,
    annotations: ReadOnly,
    call: (args, context) => planAnswer(context, args.runId),
  }),

  list_plans: tool({
    name: 'list_plans',
    title: 'List plan runs',
    description:
      'The organization’s plan runs, newest first, a page at a time: by thread, by status. Pass nextCursor as cursor for the next page.',
    input: z.object({
      threadId: Thread('Only this thread').optional(),
      status: z
        .union([z.enum(RUN_STATUSES), z.array(z.enum(RUN_STATUSES)).min(1), z.string().max(200)])
        .optional()
        .describe(`Only these statuses: one, a list, or comma-separated as the API takes them (${RUN_STATUSES.join(', ')})`),
      limit: z.number().int().min(1).max(100).optional().describe('At most this many (default 50)'),
      cursor: z.string().min(1).max(200).optional().describe('The nextCursor of the previous page'),
    }),
    output: PlanPageSchema,
    annotations: ReadOnly,
    async call(args, context) {
      const query = new URLSearchParams();
      if (args.threadId) query.set('threadId', args.threadId);
      if (args.status) query.set('status', Array.isArray(args.status) ? args.status.join(',') : args.status);
      query.set('limit', String(args.limit ?? 50));
      if (args.cursor) query.set('cursor', args.cursor);
      const { body, nextCursor } = await context.api.send<PlanSnapshot[]>('GET', `/v1/plans?${query}`);
      return { plans: body.map(summaryOf), nextCursor };
    },
  }),

  wait_for_decision: tool({
    name: 'wait_for_decision',
    title: 'Wait for the approval decision',
    description: `Waits until people have decided a plan run (approved, rejected, changes requested) and returns it; returns after at most timeoutSeconds (default ${WAIT_DEFAULT_SECONDS}, at most ${WAIT_MAX_SECONDS}) even if nobody has decided. While status is still pending-approval, call it again (people may take hours; it holds nothing between calls).`,
    input: z.object({
      runId: RunId,
      timeoutSeconds: z.number().min(0).max(WAIT_MAX_SECONDS).optional().describe(`At most this long (default ${WAIT_DEFAULT_SECONDS})`),
    }),
    output: PlanAnswerSchema,
    annotations: ReadOnly,
    async call(args, context) {
      const deadline = Date.now() + (args.timeoutSeconds ?? WAIT_DEFAULT_SECONDS) * 1000;
      for (;;) {
        const answer = await planAnswer(context, args.runId);
        const left = deadline - Date.now();
        if (answer.status !== 'pending-approval') return { ...answer, receipt: await receiptOf(context, answer) };
        if (left <= 0 || context.signal?.aborted)
          return { ...answer, next: `Still pending: nobody has decided yet. Call wait_for_decision again. ${answer.next}` };
        await pause(Math.min(WAIT_POLL_MS, left), context.signal);
      }
    },
  }),

  replace_plan: tool({
    name: 'replace_plan',
    title: 'Replace a plan run',
    description:
      'Aborts one of your active plan runs and creates its replacement from a new draft (for instance after changes were requested); the replacement goes through approval as a new plan and shows people what changed.',
    input: z.object({
      runId: RunId.describe('Your run to replace'),
      draft: Draft,
      reason: ReasonSchema.describe('Why it is replaced: people read it'),
      idempotencyKey: IdempotencyKeySchema.optional(),
    }),
    output: PlanAnswerSchema,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: false, openWorldHint: true },
    async call({ runId, ...args }, context) {
      const { body: run } = await context.api.send<PlanSnapshot>('GET', pathOf`/v1/plans/${runId}`);
      return answered(
        context,
        context.api.send('POST', pathOf`/v1/plans/${runId}/replace`, { threadId: run.threadId, leadAgentId: run.leadAgentId, ...args }),
      );
    },
  }),

  abort_plan: tool({
    name: 'abort_plan',
    title: 'Abort a plan run',
    description: 'Aborts one of your active plan runs: pending ones are never approved, running ones stop before their next step.',
    input: z.object({ runId: RunId.describe('Your run to abort'), reason: ReasonSchema.describe('Why: people read it') }),
    output: PlanAnswerSchema,
    annotations: { readOnlyHint: false, destructiveHint: true, idempotentHint: true, openWorldHint: false },
    call: ({ runId, reason }, context) => answered(context, context.api.send('POST', pathOf`/v1/plans/${runId}/abort`, { reason })),
  }),
};

export type ToolName = keyof typeof PLAN_TOOLS;
/** Every tool, in the order they are listed. */
export const PLAN_TOOL_LIST: readonly PlanTool[] = Object.values(PLAN_TOOLS) as unknown as PlanTool[];

/** A tool's input and output as JSON Schema: what MCP lists and the agent SDKs are given (the input strict: unknown arguments are refused). */
export function jsonSchemasOf(tool: PlanTool): ToolJsonSchemas {
  let schemas = JSON_SCHEMAS.get(tool);
  if (!schemas) {
    schemas = {
      input: jsonSchemaOf(tool.input.strict()) as { type: 'object' },
      output: jsonSchemaOf(tool.output, 'output') as { type: 'object' },
    };
    JSON_SCHEMAS.set(tool, schemas);
  }
  return schemas;
}

type ToolJsonSchemas = { input: { type: 'object' } & Record<string, unknown>; output: { type: 'object' } & Record<string, unknown> };
/** Made once per tool: they never change, and every `tools/list` and adapter asks for them. */
const JSON_SCHEMAS = new WeakMap<PlanTool, ToolJsonSchemas>();

/** What a tool's arguments lack or have wrong, each named by its path. */
function argumentProblems(tool: PlanTool, error: z.ZodError): PlanError {
  const problems = error.issues.map((issue) => `${issue.path.join('.') || 'arguments'}: ${issue.message}`);
  return new PlanError('invalid-input', `Invalid arguments for ${tool.name}: ${problems.join('; ')}.`);
}

/**
 * Runs a tool by name, as every host calls it: an unknown tool or bad arguments are refused
 * (invalid-input, naming each argument) before anything is sent; refusals are PlanErrors.
 */
export async function runTool(name: string, args: unknown, context: ToolContext): Promise<Record<string, unknown>> {
  const tool = Object.hasOwn(PLAN_TOOLS, name) ? (PLAN_TOOLS as Record<string, PlanTool>)[name]! : undefined;
  if (!tool)
    throw new PlanError('invalid-input', `Unknown tool "${name}"; the tools are ${PLAN_TOOL_LIST.map((each) => each.name).join(', ')}.`);
  for (const [argument, value] of Object.entries((args ?? {}) as Record<string, unknown>)) {
    const bytes = Buffer.byteLength(JSON.stringify(value) ?? '');
    if (bytes > MAX_ARGUMENT_BYTES)
      throw new PlanError(
        'too-large',
        `Argument ${argument} of ${tool.name} is ${Math.ceil(bytes / 1024)} KB of JSON; an argument may be at most ${MAX_ARGUMENT_BYTES / 1024} KB.`,
      );
  }
  const parsed = tool.input.strict().safeParse(args ?? {});
  if (!parsed.success) throw argumentProblems(tool, parsed.error);
  return tool.call(parsed.data, context);
}
