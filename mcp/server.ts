import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import {
  CallToolRequestSchema,
  type CallToolResult,
  ListResourceTemplatesRequestSchema,
  ListResourcesRequestSchema,
  ListToolsRequestSchema,
  McpError,
  ReadResourceRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';
import { PlanError } from '../domain/errors.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import { PLAN_TOOL_LIST, type PlanTool, jsonSchemasOf, runTool } from '../tools/plan-tools.js';
import type { PlansApi } from '../tools/plans-api.js';
import { PLAN_URI_TEMPLATE, POLICY_URI, planUri, readPlan, readPolicy, runIdOf } from './resources.js';

/** JSON-RPC's code for a resource that does not exist (MCP: resources/read). */
const RESOURCE_NOT_FOUND = -32002;
/** At most this many runs one session follows (resources/subscribe). */
const MAX_SUBSCRIPTIONS = 100;
/** Events of one run this close together make one `notifications/resources/updated`. */
const NOTIFY_AFTER_MS = 250;

/**
 * Follows the organization's live feed until `signal` aborts, telling `onRun` each run an event
 * was stored for. In process it reads the feed; over the network, `/v1/events` (mcp/watch.ts).
 */
export type FeedWatch = (onRun: (runId: string) => void, signal: AbortSignal) => Promise<void>;

/** Where a transport bounds the tool calls it carries: each call's slot, or a refusal when too many run at once. */
export interface CallSlots {
  /** A call starts: its signal (aborted when the request that carried it ends) and its end; or why it may not start. */
  start(requestId: string | number): { signal: AbortSignal; done(): void } | PlanError;
}

export interface PlanMcpOptions {
  /** The plans API as the calling principal (its token). */
  api: PlansApi;
  /** Where people review and decide a run. */
  inboxUrl(runId: string): string;
  watch: FeedWatch;
  /** Logs what cannot be answered to anyone (a watch that failed). */
  log?: (message: string) => void;
  /** Bounds the calls in flight (the `/mcp` route: per token); none over stdio, whose calls the API's rate limit counts. */
  slots?: CallSlots;
}

const VERSION = '0.1.0';

/** A refusal as a tool result: the API's `{error: {code, message, issues}}`, flagged `isError` (never a protocol error). */
function toolError(error: PlanError): CallToolResult {
  return { isError: true, content: [{ type: 'text', text: JSON.stringify(error.toBody()) }] };
}

function toolListing(tool: PlanTool) {
  const schemas = jsonSchemasOf(tool);
  return {
    name: tool.name,
    title: tool.title,
    description: tool.description,
    inputSchema: schemas.input,
    outputSchema: schemas.output,
    annotations: { title: tool.title, ...tool.annotations },
  };
}

/** A tool call's result: the answer as structured content (and as text, for hosts that read only text), or the refusal. */
async function callTool(
  name: string,
  args: unknown,
  options: PlanMcpOptions,
  extra: { signal: AbortSignal; requestId: string | number },
): Promise<CallToolResult> {
  const slot = options.slots?.start(extra.requestId);
  if (slot instanceof PlanError) return toolError(slot);
  try {
    const signal = slot ? AbortSignal.any([extra.signal, slot.signal]) : extra.signal;
    const result = await runTool(name, args, { api: options.api, inboxUrl: options.inboxUrl, signal });
    return { structuredContent: result, content: [{ type: 'text', text: JSON.stringify(result) }] };
  } catch (error) {
    if (error instanceof PlanError) return toolError(error);
    throw error;
  } finally {
    slot?.done();
  }
}

/**
 * The MCP server of one principal: the plan tools, the `plan://` and `plans://policy` resources,
 * and notifications when a subscribed run changes. Every call goes through `options.api`, the
 * plans API as that principal: the API's validation, permissions and organization scoping hold
 * for MCP by construction. The transport (stdio, Streamable HTTP) is the caller's.
 */
export function planMcpServer(options: PlanMcpOptions): Server {
  const server = new Server(
    { name: 'execution-plans', title: 'Execution plans', version: VERSION },
    {
      capabilities: { tools: {}, resources: { subscribe: true, listChanged: false } },
      instructions:
        'Plans you create may need people’s approval: create_plan says whom it waits for; then call wait_for_decision (it returns within a minute; call it again while pending). You cannot approve your own plans.',
    },
  );
  const subscriptions = new Set<string>();
  let watching: AbortController | undefined;
  // One notification per run per moment: a decision stores several events at once.
  const changed = new Set<string>();
  let flush: NodeJS.Timeout | undefined;
  const notify = (runId: string) => {
    changed.add(runId);
    flush ??= setTimeout(() => {
      flush = undefined;
      for (const uri of [...changed].map(planUri)) void server.sendResourceUpdated({ uri }).catch(() => undefined);
      changed.clear();
    }, NOTIFY_AFTER_MS);
  };

  const follow = () => {
    if (watching || subscriptions.size === 0) return;
    const controller = (watching = new AbortController());
    options
      .watch((runId) => {
        if (subscriptions.has(runId)) notify(runId);
      }, controller.signal)
      .catch((error: Error) => options.log?.(`The MCP session stopped following the feed: ${error.message}`))
      .finally(() => {
        if (watching === controller) watching = undefined;
      });
  };
  const unfollow = () => {
    if (subscriptions.size > 0) return;
    watching?.abort();
    watching = undefined;
  };
  server.onclose = () => {
    subscriptions.clear();
    unfollow();
  };

  server.setRequestHandler(ListToolsRequestSchema, async () => ({ tools: PLAN_TOOL_LIST.map(toolListing) }));
  server.setRequestHandler(CallToolRequestSchema, (request, extra) =>
    callTool(request.params.name, request.params.arguments, options, extra),
  );

  server.setRequestHandler(ListResourceTemplatesRequestSchema, async () => ({
    resourceTemplates: [
      {
        uriTemplate: PLAN_URI_TEMPLATE,
        name: 'plan',
        title: 'A plan run',
        description: 'A plan run as stored (JSON) and its review for people (Markdown); subscribe to hear when it changes',
      },
    ],
  }));
  server.setRequestHandler(ListResourcesRequestSchema, async () => {
    const { body: runs } = await options.api.send<PlanSnapshot[]>('GET', '/v1/plans?limit=50');
    return {
      resources: [
        {
          uri: POLICY_URI,
          name: 'policy',
          title: 'Approval policy',
          description: 'The organization’s approval policy in words',
          mimeType: 'text/plain',
        },
        ...runs.map((run) => ({
          uri: planUri(run.runId),
          name: run.runId,
          title: run.title,
          description: run.status,
          mimeType: 'application/json',
        })),
      ],
    };
  });
  server.setRequestHandler(ReadResourceRequestSchema, async (request) => ({
    contents: await readResource(options, request.params.uri),
  }));
  server.setRequestHandler(SubscribeRequestSchema, async (request) => {
    const runId = runIdOf(request.params.uri);
    if (runId === undefined) throw new McpError(RESOURCE_NOT_FOUND, `Only plan://{runId} resources change: not ${request.params.uri}.`);
    if (!subscriptions.has(runId) && subscriptions.size >= MAX_SUBSCRIPTIONS)
      throw new McpError(RESOURCE_NOT_FOUND, `A session follows at most ${MAX_SUBSCRIPTIONS} runs: unsubscribe from one first.`);
    await readResource(options, request.params.uri); // another organization's run is not found, as on read
    subscriptions.add(runId);
    follow();
    return {};
  });
  server.setRequestHandler(UnsubscribeRequestSchema, async (request) => {
    const runId = runIdOf(request.params.uri);
    if (runId !== undefined) subscriptions.delete(runId);
    unfollow();
    return {};
  });
  return server;
}

/** A resource's contents; what the principal may not read is not found (as the API answers it). */
async function readResource(options: PlanMcpOptions, uri: string) {
  try {
    if (uri === POLICY_URI) return await readPolicy(options.api);
    const runId = runIdOf(uri);
    if (runId !== undefined) return await readPlan(options.api, runId, options.inboxUrl(runId));
  } catch (error) {
    if (error instanceof PlanError && error.code === 'not-found') throw new McpError(RESOURCE_NOT_FOUND, error.message, { uri });
    if (error instanceof PlanError) throw new McpError(-32603, `${error.code}: ${error.message}`, { uri });
    throw error;
  }
  throw new McpError(RESOURCE_NOT_FOUND, `No resource ${uri}: the resources are ${POLICY_URI} and ${PLAN_URI_TEMPLATE}.`, { uri });
}
