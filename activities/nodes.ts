import { ApplicationFailure, Context } from '@temporalio/activity';

import type { AgentRegistry } from '../agents/types.js';
import type { Executor } from '../domain/draft.js';
import { type EgressRules, destinationOf, hostPort } from '../domain/egress.js';
import { MAX_DEPTH, tooDeepAt } from '../domain/limits.js';
import { maskExecutor, maskValues, revealingParts, shownUrl } from '../domain/masking.js';
import { artifactIdOf } from '../domain/run-state.js';
import { isSecretRef, missingSecrets, resolveWebhook, secretNamesOf } from '../domain/secret-refs.js';
import { secretsOffHost } from '../domain/secrets.js';
import type { PlanMetrics, StepOutcome } from '../metrics/plan-metrics.js';
import type { OpenedSecret, PlanStore } from '../storage/plan-store.js';
import { EgressRefused, postGuarded } from './egress.js';
import type { ExecuteNodeInput, ExecuteNodeResult, PlanActivities } from './contract.js';
import type { DeliverEvents } from './notifications.js';
import { storeCommitted } from './store-committed.js';

/** The worker heartbeats for every node attempt, so a lost worker is noticed and cancellation reaches the work. */
const HEARTBEAT_EVERY_MS = 1000;

/**
 * Calls a webhook of node `nodeId` with its `secrets` in place, only where the egress `rules`
 * allow and only where each secret it sends in a header is bound to go; messages name it as
 * written (secrets by name, credentials masked). What the called service answers becomes the
 * step's output or error, kept in history: every value sent, and what tells a secret URL, is
 * masked out of it first (a service may echo what it got).
 */
async function callWebhook(
  nodeId: string,
  written: Extract<Executor, { action: 'webhook' }>,
  body: unknown,
  rules: EgressRules,
  signal: AbortSignal,
  secrets: ReadonlyMap<string, OpenedSecret>,
): Promise<unknown> {
  const values = new Map([...secrets].map(([name, secret]) => [name, secret.value]));
  const executor = { ...written, ...resolveWebhook(written, values) };
  // A secret URL's host is part of the secret: messages name the secret instead, and leave addresses out.
  const shownAs = isSecretRef(written.url) ? shownUrl(written.url) : undefined;
  // A draft's own URL was checked when it was drafted; a secret's value is checked here, without telling it.
  if (!URL.canParse(executor.url))
    throw ApplicationFailure.nonRetryable(`Webhook ${shownUrl(written.url)}: its value is not a URL.`, 'invalid-url');
  const offHost = secretsOffHost(written, executor.url, (name) => secrets.get(name)?.hosts);
  if (offHost.length > 0) {
    throw ApplicationFailure.nonRetryable(
      `Node "${nodeId}" would send ${offHost.map((name) => `secret "${name}"`).join(', ')} to ${shownAs ?? hostPort(destinationOf(executor.url))}, a host ${offHost.length === 1 ? 'it is' : 'they are'} not bound to (plans secret set NAME --host HOST); nothing was sent.`,
      'secret-host',
    );
  }
  const hide = (text: string) => maskValues(text, [...values.values(), ...(shownAs ? revealingParts(executor.url) : [])]);
  let answer;
  try {
    answer = await postGuarded({
      url: executor.url,
      headers: { 'content-type': 'application/json', ...executor.headers },
      body: JSON.stringify(executor.body ?? body),
      rules,
      signal,
      ...(shownAs ? { shownAs } : {}),
      spanName: 'POST webhook step',
    });
  } catch (error) {
    // A refused destination stays refused: the step fails now, with the rule that refused it.
    if (error instanceof EgressRefused) throw ApplicationFailure.nonRetryable(hide(error.message), 'egress-refused');
    // Network errors name the host and address they failed at (DNS, TLS, connect): for a secret URL only their code is told.
    const { code, message } = error as NodeJS.ErrnoException;
    // No cause attached on purpose: Temporal records a failure's causes in history, and this one may name the secret's host.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`Webhook ${shownUrl(written.url)} failed: ${shownAs && code ? code : hide(message)}`);
  }
  const text = hide(answer.text);
  if (!answer.ok) throw new Error(`Webhook ${shownUrl(written.url)} answered ${answer.status}: ${text.slice(0, 500)}`);
  try {
    return text ? JSON.parse(text) : null;
  } catch {
    return text;
  }
}

/** Running the nodes of a plan that run on a worker: agents, webhooks (with their secrets), no-ops. */
export function nodeActivities({
  store,
  agents,
  egressRulesOf,
  deliverEvents,
  metrics,
}: {
  store: PlanStore;
  agents: AgentRegistry;
  egressRulesOf: (organizationId: string) => Promise<EgressRules>;
  deliverEvents: DeliverEvents;
  metrics?: PlanMetrics;
}): Pick<PlanActivities, 'executeNode'> {
  /**
   * The values of the secrets a step names, read here and only here: they go to the call and
   * nowhere else (the executor in history keeps the names). A secret the organization no
   * longer has fails the step for good, naming it.
   */
  async function secretValues(input: ExecuteNodeInput, executor: Executor): Promise<Map<string, OpenedSecret>> {
    const names = secretNamesOf(executor);
    const values = await store.secrets.values(input.organizationId, names);
    const missing = missingSecrets(names, values);
    if (missing.length > 0) {
      throw ApplicationFailure.nonRetryable(
        `Node "${input.nodeId}" sends ${missing.map((name) => `secret "${name}"`).join(', ')}, which organization ${input.organizationId} does not have (plans secret set NAME).`,
        'missing-secret',
      );
    }
    return values;
  }

  return {
    async executeNode(input) {
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      // The step's own time, from when its executor is reached (after the carried transitions are stored and delivered).
      let executorStarted: number | undefined;
      const executorKind = input.executor.type === 'system' ? input.executor.action : input.executor.type;
      // Every exit returns (completed) or passes through the catch, which says otherwise; timed once, in finally.
      let outcome: StepOutcome = 'completed';
      try {
        // The carried transitions are stored first; the events among them that subscriptions want
        // are delivered now, and what fails is handed back for the workflow's notifyEvents to retry.
        const notify = input.persist
          ? (await deliverEvents(input.runId, (await storeCommitted(store, input.persist, metrics)).notify)).undelivered
          : [];
        executorStarted = performance.now();
        const answer = (artifactIds: string[]): ExecuteNodeResult => (notify.length > 0 ? { artifactIds, notify } : { artifactIds });
        let output: unknown;
        const { executor } = input;
        // What the executor is called with, kept apart from what was proposed and approved (step-records.ts).
        const called = (extra: { body?: unknown } = {}) =>
          store.runs.putEffectiveCall(input.runId, input.nodeId, {
            attempt: input.attempt,
            at: new Date().toISOString(),
            executor: maskExecutor(executor),
            instructions: input.instructions ?? null,
            upstreamArtifactIds: [...input.upstreamArtifactIds],
            ...extra,
          });
        if (executor.type === 'agent') {
          const handler = agents[executor.agentId];
          if (!handler) {
            throw ApplicationFailure.nonRetryable(`No worker runs agent "${executor.agentId}".`, 'unknown-agent');
          }
          const upstream = await store.runs.getArtifacts(input.upstreamArtifactIds);
          await called();
          const result = await handler({
            runId: input.runId,
            organizationId: input.organizationId,
            threadId: input.threadId,
            node: { nodeId: input.nodeId, title: input.title, ...(input.instructions ? { instructions: input.instructions } : {}) },
            agentId: executor.agentId,
            attempt: input.attempt,
            upstream,
            signal: context.cancellationSignal,
            heartbeat: (details) => context.heartbeat(details),
          });
          output = result.output;
        } else if (executor.type === 'system' && executor.action === 'webhook') {
          const upstream = await store.runs.getArtifacts(input.upstreamArtifactIds);
          const step = { runId: input.runId, nodeId: input.nodeId, title: input.title, instructions: input.instructions };
          await called({ body: executor.body ?? { ...step, upstream: input.upstreamArtifactIds } });
          output = await callWebhook(
            input.nodeId,
            executor,
            { ...step, upstream },
            await egressRulesOf(input.organizationId),
            context.cancellationSignal,
            await secretValues(input, executor),
          );
        } else if (executor.type === 'system' && executor.action === 'noop') {
          await called();
          return answer([]);
        } else {
          throw ApplicationFailure.nonRetryable(`Node executor ${JSON.stringify(executor)} does not run on a worker.`);
        }
        // An answer too deep to store fails the attempt (retried per the node's policy) rather than the run's records.
        const deep = tooDeepAt(output, MAX_DEPTH, 'output');
        if (deep)
          throw new Error(
            `${executor.type === 'agent' ? `Agent ${executor.agentId}` : 'The webhook'} answered with ${deep} nested deeper than ${MAX_DEPTH} levels.`,
          );
        const artifactId = artifactIdOf(input.runId, input.nodeId, input.attempt);
        await store.runs.putArtifact(input.runId, {
          artifactId,
          nodeId: input.nodeId,
          attempt: input.attempt,
          content: output ?? null,
          createdBy: executor.type === 'agent' ? executor.agentId : 'system',
          createdAt: new Date().toISOString(),
        });
        return answer([artifactId]);
      } catch (error) {
        outcome = context.cancellationSignal.aborted ? 'cancelled' : 'failed';
        throw error;
      } finally {
        clearInterval(beat);
        if (executorStarted !== undefined)
          metrics?.stepAttempt(input.organizationId, executorKind, outcome, (performance.now() - executorStarted) / 1000);
      }
    },
  };
}
