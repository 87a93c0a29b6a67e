import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { type CallToolResult, ResourceUpdatedNotificationSchema } from '@modelcontextprotocol/sdk/types.js';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { planTools } from '../../tools/index.js';
import { aiSdkTools } from '../../tools/ai-sdk.js';
import { langChainTools } from '../../tools/langchain.js';
import { openAiAgentsTools } from '../../tools/openai-agents.js';
import type { PlanAnswer } from '../../tools/plan-answers.js';
import { crossThread, linearDraft } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { organizationWith, tokenFor } from '../support/principals.js';
import { eventually } from '../support/stack.js';

/**
 * The MCP server as hosts use it (issue 23): the official TypeScript SDK's client over Streamable
 * HTTP (`/mcp`) and over stdio (`plans mcp`), and the official Python SDK over Streamable HTTP,
 * against the real stack. Each lists the tools, creates a cross-thread plan, waits (pending within
 * the bound), a person approves through the API, the next wait answers approved; every refusal
 * is a tool error in the API's vocabulary, and nothing is stored for it.
 */

const { stack, call } = apiStackForFile();
const BIN = fileURLToPath(new URL('../../../bin/plans.js', import.meta.url));
const PYTHON_CLIENT = fileURLToPath(new URL('../../../test/mcp/python_client.py', import.meta.url));

const TOOLS = ['validate_plan', 'create_plan', 'get_plan', 'list_plans', 'wait_for_decision', 'replace_plan', 'abort_plan'];

async function overHttp(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  await client.connect(
    new StreamableHTTPClientTransport(new URL('/mcp', stack().apiUrl), { requestInit: { headers: { authorization: `Bearer ${token}` } } }),
  );
  return client;
}

async function overStdio(token: string): Promise<Client> {
  const client = new Client({ name: 'mcp-test', version: '1.0.0' });
  const env = { ...process.env, PLANS_TOKEN: token, PLANS_API_URL: stack().apiUrl } as Record<string, string>;
  await client.connect(new StdioClientTransport({ command: process.execPath, args: [BIN, 'mcp'], env, stderr: 'pipe' }));
  return client;
}

const answer = (result: unknown) => (result as CallToolResult).structuredContent as unknown as PlanAnswer;
/** A tool error's body: the API's `{error: {code, message}}`. */
function refusal(result: unknown): { code: string; message: string } {
  const { isError, content } = result as CallToolResult;
  expect(isError).toBe(true);
  return (JSON.parse((content[0] as { text: string }).text) as { error: { code: string; message: string } }).error;
}

async function approveAs(token: string, runId: string): Promise<void> {
  const approved = await call<PlanSnapshot>(token, 'POST', `/v1/plans/${runId}/approve`, { reason: 'Fine.' });
  expect(approved.status).toBe(200);
}

/** The whole journey an agent takes, through one client. */
async function journey(client: Client, approver: string): Promise<void> {
  const { tools } = await client.listTools();
  expect(tools.map((tool) => tool.name)).toEqual(TOOLS);

  const checked = await client.callTool({
    name: 'validate_plan',
    arguments: { draft: linearDraft(2), threadId: 't-1', sourceThreadId: 't-9' },
  });
  expect(checked.structuredContent).toMatchObject({ valid: true, policy: { needsApproval: true, reasons: ['cross-thread'] } });

  const created = answer(await client.callTool({ name: 'create_plan', arguments: crossThread(linearDraft(2)) }));
  expect(created).toMatchObject({ status: 'pending-approval', decision: null, waitingFor: { approvals: 1, from: ['role:approver'] } });
  expect(created.next).toMatch(
    /^Waits for one approval from anyone with role approver; expires .*, then rejected\. People decide in the inbox/,
  );
  expect(created.inboxUrl).toBe(`${stack().apiUrl}/inbox#/plan/${created.runId}`);

  const started = Date.now();
  const pending = answer(await client.callTool({ name: 'wait_for_decision', arguments: { runId: created.runId, timeoutSeconds: 1 } }));
  expect(Date.now() - started).toBeLessThan(5_000);
  expect(pending.status).toBe('pending-approval');
  expect(pending.next).toMatch(/^Still pending: nobody has decided yet\. Call wait_for_decision again\./);

  await approveAs(approver, created.runId);
  const decided = answer(await client.callTool({ name: 'wait_for_decision', arguments: { runId: created.runId } }));
  expect(decided).toMatchObject({ runId: created.runId, decision: 'approved', decidedBy: 'alice', inboxUrl: null });
  // Once decided, the deciding event's receipt: its place in the organization's signed audit record.
  expect(decided.receipt).toMatchObject({
    event: { runId: created.runId },
    position: expect.any(Number),
    head: { keyId: expect.any(String) },
  });
  expect(['running', 'completed']).toContain(decided.status);
}

describe('over Streamable HTTP (/mcp)', () => {
  it('lists the tools with input and output schemas and true annotations; an agent creates, waits, and learns alice approved', async () => {
    const org = await organizationWith(stack());
    const client = await overHttp(org.planner);
    const { tools } = await client.listTools();
    for (const tool of tools) {
      expect(tool.name).toMatch(/^[a-z][a-z_]{0,63}$/);
      expect(tool.inputSchema).toMatchObject({ type: 'object', additionalProperties: false });
      expect(tool.outputSchema).toMatchObject({ type: 'object' });
      expect(tool.description!.length).toBeGreaterThan(40);
    }
    const byName = Object.fromEntries(tools.map((tool) => [tool.name, tool]));
    expect(byName.create_plan!.inputSchema.required).toEqual(['draft', 'threadId', 'leadAgentId']);
    expect(Object.keys(byName.create_plan!.inputSchema.properties!)).toEqual([
      'draft',
      'threadId',
      'sourceThreadId',
      'leadAgentId',
      'idempotencyKey',
    ]);
    expect(byName.get_plan!.annotations).toMatchObject({ readOnlyHint: true, destructiveHint: false });
    expect(byName.abort_plan!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: true });
    expect(byName.create_plan!.annotations).toMatchObject({ readOnlyHint: false, destructiveHint: false, idempotentHint: false });
    await journey(client, org.alice);
    await client.close();
  });

  it('refusals are tool errors in the API’s words, and nothing is stored for them', async () => {
    const org = await organizationWith(stack());
    const other = await organizationWith(stack());
    const client = await overHttp(org.planner);
    const before = (await call<PlanSnapshot[]>(org.admin, 'GET', '/v1/plans')).body.length;

    const invalid = refusal(await client.callTool({ name: 'create_plan', arguments: crossThread({ title: 'No steps' }) }));
    expect(invalid).toMatchObject({ code: 'invalid-input' });
    expect(invalid.message).toMatch(/objective/);
    expect(refusal(await client.callTool({ name: 'create_plan', arguments: { draft: linearDraft(1) } })).message).toBe(
      'Invalid arguments for create_plan: threadId: Invalid input: expected string, received undefined; leadAgentId: Invalid input: expected string, received undefined.',
    );
    expect(
      refusal(await client.callTool({ name: 'create_plan', arguments: { ...crossThread(), organizationId: other.organizationId } }))
        .message,
    ).toMatch(/Unrecognized key: "organizationId"/);
    expect(refusal(await client.callTool({ name: 'approve_plan', arguments: {} })).message).toMatch(/^Unknown tool "approve_plan"/);
    const oversized = { ...linearDraft(1), objective: 'x'.repeat(800 * 1024) };
    expect(refusal(await client.callTool({ name: 'create_plan', arguments: crossThread(oversized) }))).toEqual({
      code: 'too-large',
      message: 'Argument draft of create_plan is 801 KB of JSON; an argument may be at most 768 KB.',
    });
    const huge = 'x'.repeat(5000);
    expect(refusal(await client.callTool({ name: 'abort_plan', arguments: { runId: 'r', reason: huge } })).message).toMatch(/reason: /);
    expect((await call<PlanSnapshot[]>(org.admin, 'GET', '/v1/plans')).body.length).toBe(before);
    const listed = async (status: unknown) =>
      ((await client.callTool({ name: 'list_plans', arguments: { status } })).structuredContent as { plans: unknown[] }).plans.length;
    expect([await listed('pending-approval'), await listed(['pending-approval']), await listed('running,pending-approval')]).toEqual([
      0, 0, 0,
    ]);
    expect(refusal(await client.callTool({ name: 'list_plans', arguments: { status: 'stuck' } })).message).toMatch(
      /^Unknown status "stuck"/,
    );

    // Another organization's run is not found; a run another agent requested is not this agent's to abort.
    const theirs = (await call<PlanSnapshot>(other.planner, 'POST', '/v1/plans', crossThread())).body;
    expect(refusal(await client.callTool({ name: 'get_plan', arguments: { runId: theirs.runId } })).code).toBe('not-found');
    expect(refusal(await client.callTool({ name: 'abort_plan', arguments: { runId: theirs.runId, reason: 'Mine now.' } })).code).toBe(
      'not-found',
    );
    const colleague = await tokenFor(stack(), org.organizationId, 'scout', { kind: 'agent', roles: [] });
    const scouts = (await call<PlanSnapshot>(colleague, 'POST', '/v1/plans', { ...crossThread(), leadAgentId: 'scout' })).body;
    const forbidden = refusal(await client.callTool({ name: 'abort_plan', arguments: { runId: scouts.runId, reason: 'Not needed.' } }));
    expect(forbidden).toMatchObject({ code: 'forbidden' });
    expect(forbidden.message).toMatch(/the agent that requested the run/);
    const replaced = refusal(
      await client.callTool({ name: 'replace_plan', arguments: { runId: scouts.runId, draft: linearDraft(1), reason: 'Better.' } }),
    );
    expect(replaced.code).toBe('forbidden');
    expect((await call<PlanSnapshot>(org.admin, 'GET', `/v1/plans/${scouts.runId}`)).body.status).toBe('pending-approval');
    await client.close();
  });

  it('a session is its token’s: another token presenting its id is refused; the resources read as the API answers', async () => {
    const org = await organizationWith(stack());
    const client = await overHttp(org.planner);
    const transport = client.transport as StreamableHTTPClientTransport;
    const stolen = await fetch(new URL('/mcp', stack().apiUrl), {
      method: 'POST',
      headers: {
        authorization: `Bearer ${org.alice}`,
        'mcp-session-id': transport.sessionId!,
        'content-type': 'application/json',
        accept: 'application/json, text/event-stream',
      },
      body: JSON.stringify({ jsonrpc: '2.0', id: 9, method: 'tools/list' }),
    });
    expect(stolen.status).toBe(404);
    const anonymous = await fetch(new URL('/mcp', stack().apiUrl), {
      method: 'POST',
      body: '{}',
      headers: { 'content-type': 'application/json' },
    });
    expect(anonymous.status).toBe(401);

    const created = answer(await client.callTool({ name: 'create_plan', arguments: crossThread(linearDraft(2)) }));
    const { contents } = await client.readResource({ uri: `plan://${created.runId}` });
    expect(contents.map((content) => content.mimeType)).toEqual(['application/json', 'text/markdown']);
    const text = (index: number) => (contents[index] as { text: string }).text;
    expect(JSON.parse(text(0))).toMatchObject({ runId: created.runId, status: 'pending-approval' });
    expect(text(1)).toMatch(/^# Quarterly review\b.*\n[\s\S]*## Steps\n\n### Step 1 \(`step-1`, pending\)/);
    const policy = await client.readResource({ uri: 'plans://policy' });
    expect((policy.contents[0] as { text: string }).text).toMatch(
      /^Approval policy of org-.*, version 0 \(the defaults\)\n {2}approvers: {5}role:approver/,
    );
    const other = await organizationWith(stack());
    const theirs = (await call<PlanSnapshot>(other.planner, 'POST', '/v1/plans', crossThread())).body;
    await expect(client.readResource({ uri: `plan://${theirs.runId}` })).rejects.toThrow(/not found/);
    await expect(client.subscribeResource({ uri: `plan://${theirs.runId}` })).rejects.toThrow(/not found/);
    await client.close();
  });

  it('one token runs at most four tool calls at once (however many sessions or batches); a cancelled wait ends at once', async () => {
    const org = await organizationWith(stack());
    const [first, second] = [await overHttp(org.planner), await overHttp(org.planner)];
    const run = answer(await first.callTool({ name: 'create_plan', arguments: crossThread() }));
    const waiting = new AbortController();
    const wait = (client: Client, timeoutSeconds: number, signal?: AbortSignal) =>
      client.callTool({ name: 'wait_for_decision', arguments: { runId: run.runId, timeoutSeconds } }, undefined, signal ? { signal } : {});
    const long = [first, first, second, second].map((client) => wait(client, 50, waiting.signal).catch(() => 'cancelled'));
    await new Promise((resolve) => setTimeout(resolve, 500));
    const refused = refusal(await wait(second, 1));
    expect(refused).toEqual({
      code: 'rate-limited',
      message: 'At most 4 tool calls run at once per token: call again when one has returned.',
    });
    // The host cancels (notifications/cancelled): each wait ends now, not in 50 s, and frees its place.
    const cancelledAt = Date.now();
    waiting.abort();
    expect(await Promise.all(long)).toEqual(['cancelled', 'cancelled', 'cancelled', 'cancelled']);
    await eventually('the cancelled waits to end', async () => {
      const again = await Promise.all([first, first, second, second].map((client) => wait(client, 0)));
      return again.every((result) => !(result as CallToolResult).isError) ? true : undefined;
    });
    expect(Date.now() - cancelledAt).toBeLessThan(10_000);
    expect(refusal(await first.callTool({ name: 'get_plan', arguments: { runId: '..' } })).message).toMatch(
      /^Invalid arguments for get_plan: runId: /,
    );
    await expect(first.readResource({ uri: 'plan://..' })).rejects.toThrow(/No resource plan:\/\/\.\./);
    await expect(first.readResource({ uri: 'plan://%E0%A4%A' })).rejects.toThrow(/No resource/);
    await Promise.all([first.close(), second.close()]);
  });

  it('a subscribed run notifies when it changes (from the live feed), and only that run', async () => {
    const org = await organizationWith(stack());
    const client = await overHttp(org.planner);
    const updated: string[] = [];
    client.setNotificationHandler(ResourceUpdatedNotificationSchema, (notification) => void updated.push(notification.params.uri));
    const followed = answer(await client.callTool({ name: 'create_plan', arguments: crossThread() }));
    const ignored = answer(await client.callTool({ name: 'create_plan', arguments: crossThread() }));
    await client.subscribeResource({ uri: `plan://${followed.runId}` });
    await approveAs(org.alice, ignored.runId);
    await approveAs(org.alice, followed.runId);
    await eventually('the notification', async () => (updated.length > 0 ? true : undefined));
    expect(new Set(updated)).toEqual(new Set([`plan://${followed.runId}`]));
    // The resource read after the decision carries who decided it (what the review's words are made from).
    const stored = (await client.readResource({ uri: `plan://${followed.runId}` })).contents[0] as { text: string };
    expect(JSON.parse(stored.text).approvals).toEqual([expect.objectContaining({ decision: 'approved', emittedBy: 'alice' })]);
    await client.close();
  });
});

describe('over stdio (plans mcp)', () => {
  it('the same journey through the command a host launches, as the agent PLANS_TOKEN names', async () => {
    const org = await organizationWith(stack());
    const client = await overStdio(org.planner);
    await journey(client, org.alice);
    const other = await organizationWith(stack());
    const theirs = (await call<PlanSnapshot>(other.planner, 'POST', '/v1/plans', crossThread())).body;
    expect(refusal(await client.callTool({ name: 'get_plan', arguments: { runId: theirs.runId } })).code).toBe('not-found');
    await client.close();
  }, 60_000);

  it('without a token that signs in it says so and exits 7, before speaking MCP', async () => {
    const child = spawn(process.execPath, [BIN, 'mcp'], {
      env: { ...process.env, PLANS_TOKEN: 'ept_not_a_token', PLANS_API_URL: stack().apiUrl },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect({ code, stdout }).toEqual({ code: 7, stdout: '' });
    expect(stderr).toMatch(/API token is not known/);
  });
});

describe('the official Python SDK over Streamable HTTP', () => {
  it('lists, creates, waits within the bound, is refused as a tool error, and learns of the approval', async () => {
    const org = await organizationWith(stack());
    const python = spawn('python3', [PYTHON_CLIENT, new URL('/mcp', stack().apiUrl).href, org.planner], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stderr = '';
    python.stderr.on('data', (chunk) => (stderr += chunk));
    const steps: Record<string, Record<string, unknown>> = {};
    let buffered = '';
    python.stdout.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      for (let end = buffered.indexOf('\n'); end >= 0; end = buffered.indexOf('\n')) {
        const step = JSON.parse(buffered.slice(0, end)) as { step: string };
        buffered = buffered.slice(end + 1);
        steps[step.step] = step;
      }
    });
    const exited = new Promise<number | null>((resolve) => python.on('exit', resolve));
    await eventually('the Python agent to be refused', async () => steps.refused ?? (python.exitCode !== null ? steps : undefined), 60_000);
    expect(steps.tools).toMatchObject({ names: TOOLS });
    expect(steps.created).toMatchObject({ isError: false, status: 'pending-approval' });
    expect(steps.waited).toMatchObject({ status: 'pending-approval' });
    expect(steps.waited!.seconds as number).toBeLessThan(5);
    expect(steps.refused).toMatchObject({ isError: true });
    expect(JSON.parse(steps.refused!.text as string)).toMatchObject({ error: { code: 'invalid-input' } });
    await approveAs(org.alice, steps.created!.runId as string);
    python.stdin.write('\n');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
    expect(steps.decided).toMatchObject({ decision: 'approved', decidedBy: 'alice' });
  }, 90_000);
});

describe('typed tools for agent SDKs (one source with the MCP tools)', () => {
  it('planTools: the same names, descriptions and schemas as MCP lists, bound to the API as one agent', async () => {
    const org = await organizationWith(stack());
    const client = await overHttp(org.planner);
    const listed = (await client.listTools()).tools;
    await client.close();
    const tools = planTools({ apiUrl: stack().apiUrl, token: org.planner });
    const shape = (name: string, description: unknown, inputSchema: unknown, annotations: object) => ({
      name,
      description,
      inputSchema,
      annotations,
    });
    expect(tools.map((tool) => shape(tool.name, tool.description, tool.jsonSchema.input, tool.annotations))).toEqual(
      listed.map(({ name, description, inputSchema, annotations }) => {
        const { title: _title, ...hints } = annotations!;
        return shape(name, description, inputSchema, hints);
      }),
    );
    const create = tools.find((tool) => tool.name === 'create_plan')!;
    const created = (await create.execute(crossThread())) as PlanAnswer;
    expect(create.outputSchema.parse(created)).toEqual(created);
    await expect(create.execute({ draft: linearDraft(1) })).rejects.toThrow(/^Invalid arguments for create_plan: threadId: /);
  });

  it('the Vercel AI SDK, the OpenAI Agents SDK and LangChain.js each create, read and are refused through their own tool()', async () => {
    const org = await organizationWith(stack());
    const other = await organizationWith(stack());
    const theirs = (await call<PlanSnapshot>(other.planner, 'POST', '/v1/plans', crossThread())).body;
    const options = { apiUrl: stack().apiUrl, token: org.planner };

    const ai = aiSdkTools(options);
    expect(Object.keys(ai)).toEqual(TOOLS);
    const created = (await ai.create_plan!.execute!(crossThread(), { toolCallId: 'call-1', messages: [] })) as PlanAnswer;
    expect(created.status).toBe('pending-approval');
    await expect(Promise.resolve(ai.get_plan!.execute!({ runId: theirs.runId }, { toolCallId: 'call-2', messages: [] }))).rejects.toThrow(
      /not found/,
    );

    const agents = openAiAgentsTools(options);
    const getPlan = agents.find((tool) => tool.name === 'get_plan')!;
    // The SDK hands the model a result as it is, and an error as the text the tool's errorFunction wrote.
    const read = (await getPlan.invoke({} as never, JSON.stringify({ runId: created.runId }))) as PlanAnswer;
    expect(read).toMatchObject({ runId: created.runId, status: 'pending-approval' });
    expect(JSON.parse((await getPlan.invoke({} as never, JSON.stringify({ runId: theirs.runId }))) as string)).toMatchObject({
      error: { code: 'not-found' },
    });

    const chain = langChainTools(options);
    const wait = chain.find((tool) => tool.name === 'wait_for_decision')!;
    expect(JSON.parse((await wait.invoke({ runId: created.runId, timeoutSeconds: 0 })) as string)).toMatchObject({
      status: 'pending-approval',
    });
    const abort = chain.find((tool) => tool.name === 'abort_plan')!;
    expect(JSON.parse((await abort.invoke({ runId: created.runId, reason: 'Not needed.' })) as string)).toMatchObject({
      status: 'aborted',
    });
    await expect(abort.invoke({ runId: theirs.runId, reason: 'Mine now.' })).rejects.toThrow(/not found/);
  });
});
