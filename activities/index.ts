import { ApplicationFailure, Context } from '@temporalio/activity';
import { type Client, ScheduleAlreadyRunning, ScheduleNotFoundError, type ScheduleOverlapPolicy } from '@temporalio/client';

import type { AgentRegistry } from '../agents/types.js';
import { type LinkSigner, signDelivery } from '../auth/links.js';
import { type Decider, eligibleDeciders } from '../domain/approval.js';
import type { Executor } from '../domain/draft.js';
import { type EgressRules, destinationOf, hostPort } from '../domain/egress.js';
import { MAX_DEPTH, tooDeepAt } from '../domain/limits.js';
import { maskValues, revealingParts, shownUrl } from '../domain/masking.js';
import { isSecretRef, missingSecrets, resolveWebhook, secretNamesOf } from '../domain/secret-refs.js';
import { secretsOffHost } from '../domain/secrets.js';
import { EgressRefused, postGuarded } from './egress.js';
import { storeCommitted } from './store-committed.js';
import type { CompiledPlan } from '../domain/plan.js';
import { planRunInput } from '../domain/run-input.js';
import { type RunHeader, artifactIdOf } from '../domain/run-state.js';
import { type PlanSchedule, describeSchedule, parseInterval } from '../domain/schedule.js';
import type { OpenedSecret, PersistTransitionsInput, PlanStore, Subscription } from '../storage/plan-store.js';
import { scheduleIdOf, searchAttributesOf, workflowIdOf } from '../temporal/names.js';

export interface AttachScheduleInput {
  run: RunHeader;
  plan: CompiledPlan;
  schedule: PlanSchedule;
}

export interface AttachedSchedule {
  scheduleId: string;
  scheduledAt?: string;
  description: string;
}

/** One attempt of one node, as the workflow hands it to a worker. */
export interface ExecuteNodeInput {
  runId: string;
  organizationId: string;
  threadId: string;
  nodeId: string;
  title: string;
  instructions?: string;
  executor: Executor;
  attempt: number;
  upstreamArtifactIds: string[];
  /** Run transitions to persist before the node runs (the workflow saves a flush this way). */
  persist?: PersistTransitionsInput;
}

/** What an attempt produced: its artifacts, by id (the content stays in SurrealDB). */
export interface ExecuteNodeResult {
  artifactIds: string[];
  /** Events among the carried transitions whose delivery failed: the workflow retries them. */
  notify?: number[];
}

/** What the workflow may ask of the outside world. Every activity is safe to retry. */
export interface PlanActivities {
  /**
   * Persists run transitions in one SurrealDB transaction (idempotent, never rolls back);
   * answers the sequence numbers of the events some webhook subscription wants.
   */
  persistTransitions(input: PersistTransitionsInput): Promise<{ notify: number[] }>;
  /** Delivers a run's events to the organization's subscriptions, each delivery at most once; throws (and is retried) while any fails. */
  notifyEvents(input: { runId: string; sequences: number[] }): Promise<{ delivered: number }>;
  /** Creates the spec's Temporal Schedule (if absent) and its `plan_schedule` mirror; returns the next fire time. */
  attachSchedule(input: AttachScheduleInput): Promise<AttachedSchedule>;
  /** Brings the `plan_schedule` mirror's next fire time up to date after a fire. */
  refreshSchedule(input: { scheduleId: string; firedRunId: string }): Promise<void>;
  /** Deletes a spec's schedule (a replaced spec must leave no live schedule); absent is fine. */
  deleteSchedule(input: { scheduleId: string }): Promise<void>;
  /** The approval gate: who a decision names, as the organization's directory has it now (null: no such principal). */
  findPrincipal(input: { organizationId: string; principalId: string }): Promise<Decider | null>;
  /** Persists the transitions it carries, then runs one attempt of an agent or system node and stores its output as an artifact. */
  executeNode(input: ExecuteNodeInput): Promise<ExecuteNodeResult>;
}

export interface ActivityDependencies {
  store: PlanStore;
  client: Client;
  taskQueue: string;
  /** The agents this worker runs, by `agentId`. */
  agents: AgentRegistry;
  /** Signs the approve / reject links of pending-approval notifications. */
  links: LinkSigner;
  /** The operator's `PLANS_EGRESS_ALLOW`: hosts every organization may call even at a non-public address. */
  egressAllow?: readonly string[];
}

const OVERLAP: Record<NonNullable<PlanSchedule['overlap']>, ScheduleOverlapPolicy> = {
  skip: 'SKIP',
  'buffer-one': 'BUFFER_ONE',
  'buffer-all': 'BUFFER_ALL',
  'cancel-other': 'CANCEL_OTHER',
  'terminate-other': 'TERMINATE_OTHER',
  'allow-all': 'ALLOW_ALL',
};

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
  if (!URL.canParse(executor.url)) throw ApplicationFailure.nonRetryable(`Webhook ${shownUrl(written.url)}: its value is not a URL.`, 'invalid-url');
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

export function createActivities({ store, client, taskQueue, agents, links, egressAllow = [] }: ActivityDependencies): PlanActivities {
  /** The egress rules in force for an organization now: its current policy's list and the operator's. */
  async function egressRulesOf(organizationId: string): Promise<EgressRules> {
    const { policy } = await store.policies.get(organizationId);
    return { allow: policy.egress?.allow, operatorAllow: egressAllow };
  }

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

  async function nextFireTime(scheduleId: string): Promise<string | undefined> {
    const description = await client.schedule.getHandle(scheduleId).describe();
    return description.info.nextActionTimes[0]?.toISOString();
  }

  /**
   * Delivers a run's events to the subscriptions that want them, each delivery at most once (one
   * already recorded is skipped); answers what failed, for the caller to retry.
   */
  async function deliverEvents(runId: string, sequences: number[]): Promise<{ delivered: number; failures: string[]; undelivered: number[] }> {
    if (sequences.length === 0) return { delivered: 0, failures: [], undelivered: [] };
    const [events, run] = await Promise.all([store.feed.events(runId, sequences), store.runs.getSnapshot(runId)]);
    if (!run) return { delivered: 0, failures: [], undelivered: [] };
    const subscriptions = await store.subscriptions.list(run.organizationId);
    const rules = subscriptions.length > 0 ? await egressRulesOf(run.organizationId) : {};
    // Links decide as one person, on the revision shown. They go only to a person's own destination
    // (a personal subscription), theirs alone and bound to it: a link read from anyone else's
    // delivery (an organization's integration, the requesting agent's receiver) decides nothing.
    const approval = run.approval;
    const deciders = new Set(
      approval && run.revision && events.some((event) => event.eventType === 'plan-pending-approval')
        ? eligibleDeciders({ ...approval, narrowedTo: approval.narrowedTo ?? undefined }, await store.principals.list(run.organizationId)).map(({ id }) => id)
        : [],
    );
    // A person whose every token was revoked gets no links (their subscription stays, their links would not act).
    const active = subscriptions.some((subscription) => subscription.principalId && deciders.has(subscription.principalId))
      ? await store.principals.withActiveTokens(run.organizationId)
      : new Set<string>();
    const linksFor = (subscription: Subscription) => {
      const principalId = subscription.principalId;
      if (!principalId || !deciders.has(principalId) || !active.has(principalId)) return [];
      const claims = { runId, organizationId: run.organizationId, principalId, revision: run.revision!, subscriptionId: subscription.subscriptionId };
      return [
        {
          principalId,
          approve: links.link({ ...claims, decision: 'approve' }),
          reject: links.link({ ...claims, decision: 'reject' }),
          requestChanges: links.link({ ...claims, decision: 'changes-requested' }),
        },
      ];
    };
    const failures: string[] = [];
    const undelivered = new Set<number>();
    let delivered = 0;
    for (const event of events) {
      for (const subscription of subscriptions.filter((candidate) => candidate.eventTypes.includes(event.eventType))) {
        if (await store.subscriptions.isDelivered(subscription.subscriptionId, runId, event.sequence)) continue;
        const { feedSeq: _feed, ...payloadEvent } = event;
        const body = JSON.stringify({
          deliveryId: `${subscription.subscriptionId}:${runId}:${event.sequence}`,
          event: payloadEvent,
          run: { runId, title: run.title, status: run.status, organizationId: run.organizationId, threadId: run.threadId, sourceThreadId: run.sourceThreadId },
          ...(event.eventType === 'plan-pending-approval' ? { links: linksFor(subscription) } : {}),
        });
        try {
          // A refused destination is retried like any failed delivery: the policy may allow it later.
          const response = await postGuarded({
            url: subscription.url,
            headers: { 'content-type': 'application/json', 'x-plans-signature': signDelivery(subscription.secret, body), 'x-plans-event': event.eventType },
            body,
            rules,
            timeoutMs: 10_000,
            maxAnswerBytes: 64 * 1024,
          });
          if (!response.ok) throw new Error(`answered ${response.status}`);
          await store.subscriptions.recordDelivery(subscription.subscriptionId, runId, event.sequence);
          delivered++;
        } catch (error) {
          failures.push(`${subscription.url}: ${(error as Error).message}`);
          undelivered.add(event.sequence);
        }
      }
    }
    return { delivered, failures, undelivered: [...undelivered] };
  }

  return {
    async persistTransitions(input) {
      return storeCommitted(store, input);
    },

    async findPrincipal({ organizationId, principalId }) {
      const principal = await store.principals.find(organizationId, principalId);
      return principal ? { id: principal.id, kind: principal.kind, roles: principal.roles } : null;
    },

    async notifyEvents({ runId, sequences }) {
      const { delivered, failures } = await deliverEvents(runId, sequences);
      if (failures.length > 0) throw new Error(`Undelivered notifications (will retry): ${failures.join('; ')}`);
      return { delivered };
    },

    async attachSchedule({ run, plan, schedule }) {
      const scheduleId = scheduleIdOf(run.planSpecId);
      // Each fire starts a run of the approved spec that needs no further approval.
      const fired = planRunInput({
        planSpecId: run.planSpecId,
        organizationId: run.organizationId,
        threadId: run.threadId,
        ...(run.sourceThreadId ? { sourceThreadId: run.sourceThreadId } : {}),
        leadAgentId: run.leadAgentId,
        ...(run.createdByAgentId ? { createdByAgentId: run.createdByAgentId } : {}),
        requireApproval: false,
        firedByScheduleId: scheduleId,
        // Fires run the approved revision under the rules it was approved with (a person's steps keep their assignees).
        ...(run.revision ? { revision: run.revision } : {}),
        ...(run.rules ? { rules: run.rules } : {}),
        plan,
      });
      try {
        await client.schedule.create({
          scheduleId,
          spec: {
            ...('cron' in schedule ? { cronExpressions: [schedule.cron] } : { intervals: [{ every: parseInterval(schedule.every)! }] }),
            ...(schedule.timezone ? { timezone: schedule.timezone } : {}),
          },
          action: {
            type: 'startWorkflow',
            workflowType: 'planRun',
            taskQueue,
            workflowId: workflowIdOf(`${run.planSpecId}.fired`),
            args: [fired],
            typedSearchAttributes: searchAttributesOf({ ...fired, status: 'running' }),
            staticSummary: plan.title,
          },
          policies: { overlap: OVERLAP[schedule.overlap ?? 'skip'] },
          memo: { runId: run.runId, planSpecId: run.planSpecId },
        });
      } catch (error) {
        if (!(error instanceof ScheduleAlreadyRunning)) throw error;
        Context.current().log.info('Schedule already exists', { scheduleId });
      }
      const scheduledAt = await nextFireTime(scheduleId);
      await store.schedules.upsert({
        scheduleId,
        planSpecId: run.planSpecId,
        runId: run.runId,
        organizationId: run.organizationId,
        threadId: run.threadId,
        schedule,
        state: 'active',
        ...(scheduledAt ? { nextFireAt: scheduledAt } : {}),
      });
      return { scheduleId, ...(scheduledAt ? { scheduledAt } : {}), description: describeSchedule(schedule) };
    },

    async refreshSchedule({ scheduleId, firedRunId }) {
      try {
        const nextFireAt = await nextFireTime(scheduleId);
        await store.schedules.patch(scheduleId, { nextFireAt: nextFireAt ?? null, lastFiredRunId: firedRunId });
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
    },

    async deleteSchedule({ scheduleId }) {
      try {
        await client.schedule.getHandle(scheduleId).delete();
      } catch (error) {
        if (!(error instanceof ScheduleNotFoundError)) throw error;
      }
      await store.schedules.patch(scheduleId, { state: 'deleted', nextFireAt: null });
    },

    async executeNode(input) {
      const context = Context.current();
      const beat = setInterval(() => context.heartbeat(), HEARTBEAT_EVERY_MS);
      try {
        // The carried transitions are stored first; the events among them that subscriptions want
        // are delivered now, and what fails is handed back for the workflow's notifyEvents to retry.
        const notify = input.persist ? (await deliverEvents(input.runId, (await storeCommitted(store, input.persist)).notify)).undelivered : [];
        const answer = (artifactIds: string[]): ExecuteNodeResult => (notify.length > 0 ? { artifactIds, notify } : { artifactIds });
        let output: unknown;
        const { executor } = input;
        if (executor.type === 'agent') {
          const handler = agents[executor.agentId];
          if (!handler) {
            throw ApplicationFailure.nonRetryable(`No worker runs agent "${executor.agentId}".`, 'unknown-agent');
          }
          const upstream = await store.runs.getArtifacts(input.upstreamArtifactIds);
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
          output = await callWebhook(
            input.nodeId,
            executor,
            { runId: input.runId, nodeId: input.nodeId, title: input.title, instructions: input.instructions, upstream },
            await egressRulesOf(input.organizationId),
            context.cancellationSignal,
            await secretValues(input, executor),
          );
        } else if (executor.type === 'system' && executor.action === 'noop') {
          return answer([]);
        } else {
          throw ApplicationFailure.nonRetryable(`Node executor ${JSON.stringify(executor)} does not run on a worker.`);
        }
        // An answer too deep to store fails the attempt (retried per the node's policy) rather than the run's records.
        const deep = tooDeepAt(output, MAX_DEPTH, 'output');
        if (deep) throw new Error(`${executor.type === 'agent' ? `Agent ${executor.agentId}` : 'The webhook'} answered with ${deep} nested deeper than ${MAX_DEPTH} levels.`);
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
      } finally {
        clearInterval(beat);
      }
    },
  };
}
