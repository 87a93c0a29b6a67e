import { CancellationScope, isCancellation, sleep } from '@temporalio/workflow';

import type { CompiledNode } from '../domain/plan.js';
import type { RunState } from '../domain/run-state.js';
import { TERMINAL_RUN_STATUSES } from '../domain/status.js';
import type { PersistTransitionsInput } from '../domain/run-record.js';
import { runNodeAttempt } from './node-attempt.js';

/** What node work reports back to the run's loop, which alone changes the run's state. */
export type Outcome =
  | { kind: 'succeeded'; nodeId: string; attempt: number; artifactIds: string[] }
  | { kind: 'failed'; nodeId: string; attempt: number; error: string }
  | { kind: 'restart'; nodeId: string; attempt: number }
  | { kind: 'deadline'; nodeId: string; which: 'warning' | 'missed' };

/** A node activity's hand-off: the transitions it stores before it runs, and who to tell once it did (with the events still to notify). */
export interface Carried {
  input: PersistTransitionsInput;
  stored(notify: number[]): void;
}

function describeError(error: unknown): string {
  const cause = (error as { cause?: unknown })?.cause;
  const root = cause instanceof Error ? cause : error;
  return root instanceof Error ? root.message : String(root);
}

/**
 * The run's node work in flight: attempts (an activity, or a durable timer for `wait` nodes),
 * retry backoffs and deadline timers, each in its own cancellation scope. Work never changes
 * the run's state: it reports an `Outcome`, which the loop applies through the domain.
 */
export class NodeRunner {
  /** What node work reported and the loop has yet to apply, oldest first. */
  readonly outcomes: Outcome[] = [];
  /** Attempts and retry backoffs in progress, by node: what an abort cancels and continue-as-new waits for. */
  private readonly inFlight = new Map<string, CancellationScope>();
  /** Deadline timers, by node. */
  private readonly deadlines = new Map<string, CancellationScope>();
  /** Nodes whose attempt starts once the transition that started it is stored (see `takeQueued`). */
  private queued: string[] = [];

  constructor(
    private readonly specs: ReadonlyMap<string, CompiledNode>,
    private readonly state: () => RunState,
  ) {}

  /** Nothing in flight: no attempt, no backoff. */
  get idle(): boolean {
    return this.inFlight.size === 0;
  }

  isInFlight(nodeId: string): boolean {
    return this.inFlight.has(nodeId);
  }

  /** An attempt to start once its start is stored. */
  queue(nodeId: string): void {
    this.queued.push(nodeId);
  }

  /** The queued attempts, still running (an abort in between cancels them), and forgets them. */
  takeQueued(): string[] {
    const nodes = this.queued.filter((nodeId) => this.node(nodeId).status === 'running');
    this.queued = [];
    return nodes;
  }

  /** Runs the node's current attempt; `carried` transitions are stored by its activity before it runs. */
  launch(nodeId: string, carried?: Carried): void {
    const spec = this.specs.get(nodeId)!;
    const state = this.state();
    const attempt = this.node(nodeId).attempt ?? 1;
    const upstreamArtifactIds = spec.dependsOn.flatMap((dep) => this.node(dep).artifactIds ?? []);
    this.track(this.inFlight, nodeId, async () => {
      try {
        const { artifactIds, notify = [] } = await runNodeAttempt(spec, {
          runId: state.runId,
          organizationId: state.organizationId,
          threadId: state.threadId,
          attempt,
          upstreamArtifactIds,
          ...(carried ? { persist: carried.input } : {}),
        });
        carried?.stored(notify);
        this.outcomes.push({ kind: 'succeeded', nodeId, attempt, artifactIds });
      } catch (error) {
        if (isCancellation(error) && TERMINAL_RUN_STATUSES.has(this.state().status)) return;
        this.outcomes.push({ kind: 'failed', nodeId, attempt, error: describeError(error) });
      }
    });
  }

  /** Waits out a retry's backoff (the node keeps its slot meanwhile), then reports that it may restart. */
  retryAfter(nodeId: string, attempt: number, inMs: number): void {
    this.track(this.inFlight, nodeId, async () => {
      await sleep(inMs);
      this.outcomes.push({ kind: 'restart', nodeId, attempt });
    });
  }

  cancelAttempt(nodeId: string): void {
    this.inFlight.get(nodeId)?.cancel();
  }

  /** Deadline timers count from the node's start, so they survive continue-as-new. */
  armDeadline(nodeId: string): void {
    const deadline = this.specs.get(nodeId)!.policy.deadline;
    const node = this.node(nodeId);
    if (!deadline || !node.startedAt) return;
    const startedAt = Date.parse(node.startedAt);
    const at = (ms: number) => sleep(Math.max(1, startedAt + ms - Date.now()));
    this.track(this.deadlines, nodeId, async () => {
      if (deadline.warnAtMs !== undefined && !node.deadlineEvents?.includes('warning')) {
        await at(deadline.warnAtMs);
        this.outcomes.push({ kind: 'deadline', nodeId, which: 'warning' });
      }
      if (!node.deadlineEvents?.includes('missed')) {
        await at(deadline.afterMs);
        this.outcomes.push({ kind: 'deadline', nodeId, which: 'missed' });
      }
    });
  }

  cancelDeadline(nodeId: string): void {
    this.deadlines.get(nodeId)?.cancel();
    this.deadlines.delete(nodeId);
  }

  /** Before continuing as new: the next execution arms the deadlines again from the nodes' starts. */
  cancelDeadlines(): void {
    for (const scope of this.deadlines.values()) scope.cancel();
  }

  /** The run ended: every attempt, backoff and deadline stops. */
  cancelAll(): void {
    for (const scope of [...this.inFlight.values(), ...this.deadlines.values()]) scope.cancel();
  }

  /** After continue-as-new: deadlines armed again, attempts in flight started again. */
  resume(): void {
    for (const node of this.state().nodes) {
      if (node.status === 'running' || node.status === 'awaiting-human') this.armDeadline(node.nodeId);
      if (node.status === 'running') this.launch(node.nodeId);
    }
  }

  private node(nodeId: string) {
    return this.state().nodes.find((node) => node.nodeId === nodeId)!;
  }

  /** Runs `body` in a cancellable scope tracked in `registry`; it is forgotten once settled. */
  private track(registry: Map<string, CancellationScope>, nodeId: string, body: () => Promise<void>): void {
    const scope = new CancellationScope();
    registry.set(nodeId, scope);
    scope
      .run(body)
      .catch(() => {}) // cancelled: the run moved on
      .finally(() => {
        if (registry.get(nodeId) === scope) registry.delete(nodeId);
      });
  }
}
