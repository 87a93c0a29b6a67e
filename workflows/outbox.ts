import { CancellationScope, condition, patched, proxyActivities, proxyLocalActivities } from '@temporalio/workflow';

import type { PlanActivities } from '../activities/contract.js';
import type { OutboxEffect } from '../domain/effects.js';
import type { CompiledNode } from '../domain/plan.js';
import { behaviourOf } from '../domain/run-input.js';
import type { RunCreation, RunHeader, Transition } from '../domain/run-state.js';
import type { PersistTransitionsInput } from '../domain/run-record.js';
import type { Carried } from './node-runner.js';

/** One thing the run accepted and must carry out: a transition to store, or an effect that follows one. */
export type OutboxItem = { kind: 'persist'; transition: Transition; creation?: boolean } | OutboxEffect;

// Storing must never give up: nothing the run accepted may be lost, so retry until it lands.
const RETRY_FOREVER = { initialInterval: '200ms', backoffCoefficient: 2, maximumInterval: '30s' };
/**
 * A flush is an activity, so it writes only what Temporal committed (I1): its input is recorded
 * in history before it runs. Runs recorded before this patch keep the local activity they
 * started with, so their histories replay (ARCHITECTURE.md, "Committed history").
 */
const COMMITTED_PERSISTENCE = 'persist-from-committed-history';
const committed = proxyActivities<PlanActivities>({ startToCloseTimeout: '15s', retry: RETRY_FOREVER });
const uncommitted = proxyLocalActivities<PlanActivities>({ startToCloseTimeout: '30s', retry: RETRY_FOREVER });
// A receiver that stays down for about an hour misses its notification; the run does not wait longer.
const { notifyEvents } = proxyActivities<PlanActivities>({
  startToCloseTimeout: '1m',
  retry: { initialInterval: '1s', backoffCoefficient: 2, maximumInterval: '10m', maximumAttempts: 12 },
});

export interface OutboxOptions {
  /** Which run: its id, organization and thread address every write. */
  run: Pick<RunHeader, 'runId' | 'organizationId' | 'threadId'>;
  /** The run's format (domain/run-input.ts): how it stores; absent for runs started before formats. */
  format: number | undefined;
  creation: RunCreation;
  /** Carries out an effect; answers the position of a transition it added, if any (a schedule recorded). */
  perform(effect: OutboxEffect): Promise<number | void>;
}

/**
 * The run's outbox: everything the run accepted, in order — transitions to store in SurrealDB
 * and the effects that must follow them — carried out one at a time, so the run is the single
 * writer of its record. Positions count items: an item is *done* once flushed, performed or
 * handed to a node activity, and *confirmed* once known stored. workflows/ARCHITECTURE.md
 * explains the hand-off and why every write comes from committed history.
 */
export class Outbox {
  private readonly items: OutboxItem[] = [];
  /** Items handed off: performed, flushed, or carried by a node activity. */
  private done = 0;
  /**
   * Transitions handed to a node activity to store before it runs (saving a flush activity,
   * its action and a workflow task per node). Unconfirmed until that activity reports back; a
   * flush before then re-sends them first, which the store's transition guard makes harmless.
   */
  private carried: { from: number; carrier: string } | undefined;
  /** Update handlers waiting to answer: meanwhile pending transitions get a flush, never a hand-off. */
  private waiters = 0;
  /** Notification deliveries in progress: the run ends only once they are done. */
  private notifying = 0;
  /** Where the schedule's record sits, once attached (older runs' answers wait for it). */
  private scheduleRecorded: number | undefined;

  /** False for runs recorded before persistence moved to activities: they keep their old timing. */
  private readonly fromCommittedHistory: boolean;
  /** Format 2 on: run-level transitions are handed off too, whoever waits (waiters never wait for a flush). */
  private readonly handsOffEverything: boolean;
  private readonly persistTransitions: PlanActivities['persistTransitions'];

  /** Made before the run's first command: the run's format, or else the patch marker, decides how this run stores. */
  constructor(private readonly options: OutboxOptions) {
    const behaviour = behaviourOf(options.format);
    this.handsOffEverything = behaviour.handsOffEverything;
    // The marker is asked only by runs from before formats (asking records it in a new run).
    this.fromCommittedHistory = behaviour.storesFromCommittedHistory === true || patched(COMMITTED_PERSISTENCE);
    this.persistTransitions = (this.fromCommittedHistory ? committed : uncommitted).persistTransitions;
  }

  /** Queues an item; answers the position the run has reached once it is done. */
  push(item: OutboxItem): number {
    this.items.push(item);
    return this.items.length;
  }

  get length(): number {
    return this.items.length;
  }

  /** Everything accepted is stored: the stored record is the committed one now. */
  get stored(): boolean {
    return this.done === this.items.length && this.carried === undefined;
  }

  /** Every item is done (flushed, performed or handed off). */
  get drained(): boolean {
    return this.done === this.items.length;
  }

  /** Nothing left to store or tell: the run may end or continue as new. */
  get quiet(): boolean {
    return this.stored && this.notifying === 0;
  }

  /** There is something for `drain` to do. */
  needsDrain(isInFlight: (nodeId: string) => boolean): boolean {
    return this.done < this.items.length || this.carrierLetDown(isInFlight);
  }

  /**
   * The carried transitions need a flush after all: their carrier failed (it may not have stored
   * them), or, in a run from before format 2, a caller waits for them to be stored.
   */
  private carrierLetDown(isInFlight: (nodeId: string) => boolean): boolean {
    return this.carried !== undefined && (!isInFlight(this.carried.carrier) || (!this.handsOffEverything && this.waiters > 0));
  }

  /** This execution's transitions from `from` on, at most `limit`. */
  transitions(from: number, limit: number): Transition[] {
    const found: Transition[] = [];
    for (const item of this.items) {
      if (found.length >= limit) break;
      if (item.kind === 'persist' && item.transition.sequence >= from) found.push(item.transition);
    }
    return found;
  }

  /**
   * Waits until what the first `count` items ask of the world has happened (a schedule attached
   * and recorded, a replacement started). A run storing from committed history answers then,
   * with a `version` its caller waits for in SurrealDB: waiting here for the flush activity would
   * cost every answer another workflow task. Older runs answer once everything is stored.
   */
  async settled(count: number): Promise<void> {
    this.waiters++;
    try {
      if (this.fromCommittedHistory) {
        const effects = this.items.slice(0, count).findLastIndex((item) => item.kind !== 'persist') + 1;
        await condition(() => this.done >= effects);
        return;
      }
      await this.confirmed(count);
      if (this.scheduleRecorded !== undefined) await this.confirmed(this.scheduleRecorded);
    } finally {
      this.waiters--;
    }
  }

  /**
   * The hand-off: the pending transitions ride on the activity of `nodeId` instead of a flush —
   * only when nothing else runs (so it is the only writer) and every pending item is a
   * transition. Runs from before format 2 also need that no caller waits on a flush and that
   * every transition is node-level (their run-level events went through a flush, which started
   * their notifications; a carrier now delivers them itself).
   */
  carry(node: CompiledNode, othersInFlight: boolean): Carried | undefined {
    const onWorker = !(node.executor.type === 'system' && node.executor.action === 'wait');
    const pending = this.items.slice(this.done);
    const runLevel = (item: OutboxItem) =>
      item.kind !== 'persist' || item.transition.events.some((event) => event.eventType.startsWith('plan-'));
    const effect = (item: OutboxItem) => item.kind !== 'persist';
    const refused = this.handsOffEverything ? pending.some(effect) : this.waiters > 0 || pending.some(runLevel);
    if (!onWorker || othersInFlight || pending.length === 0 || refused) return undefined;
    const from = this.carried?.from ?? this.done;
    this.carried = { from, carrier: node.nodeId };
    this.done = this.items.length;
    return {
      input: this.unconfirmed(from, this.items.length),
      stored: (notify) => {
        if (this.carried?.carrier === node.nodeId) this.carried = undefined;
        this.notify(notify);
      },
    };
  }

  /** Carries out accepted work in order; consecutive transitions are stored in one transaction. */
  async drain(isInFlight: (nodeId: string) => boolean): Promise<void> {
    // Work accepted meanwhile waits for the next round, which first applies outcomes and starts
    // nodes: a decision and the nodes it starts are stored together, so the caller waiting for
    // the decision's version reads where the run went. (Older runs drain everything at once.)
    const accepted = this.items.length;
    const limit = () => (this.fromCommittedHistory ? accepted : this.items.length);
    while (this.done < limit()) {
      const item = this.items[this.done]!;
      if (item.kind !== 'persist') {
        const recorded = await this.options.perform(item);
        if (item.kind === 'attach-schedule' && recorded !== undefined) this.scheduleRecorded = recorded;
        this.done++;
        continue;
      }
      let end = this.done;
      while (end < limit() && this.items[end]!.kind === 'persist') end++;
      await this.flush(end);
    }
    if (this.carrierLetDown(isInFlight)) await this.flush(this.done);
  }

  private confirmed(count: number): Promise<void> {
    return condition(() => this.done >= count && (this.carried === undefined || this.carried.from >= count));
  }

  /** Stores every transition up to `end` not yet confirmed, in one transaction; starts the notifications it asks for. */
  private async flush(end: number): Promise<void> {
    const from = this.carried?.from ?? this.done;
    const result = await this.persistTransitions(this.unconfirmed(from, end));
    this.done = end;
    this.carried = undefined;
    this.notify(result?.notify ?? []);
  }

  /** Starts delivering the run's events `sequences` to the subscriptions that want them. */
  private notify(sequences: number[]): void {
    if (sequences.length > 0) {
      this.notifying++;
      // Not cancelled with the run: a run that ends still tells its subscribers.
      CancellationScope.nonCancellable(() => notifyEvents({ runId: this.options.run.runId, sequences }))
        .catch(() => {}) // given up after its retries; the failure is in the history
        .finally(() => this.notifying--);
    }
  }

  /** The transitions from `from` to `to` not yet known stored, with the run's creation if among them. */
  private unconfirmed(from: number, to: number): PersistTransitionsInput {
    const batch = this.items.slice(from, to).filter((item): item is Extract<OutboxItem, { kind: 'persist' }> => item.kind === 'persist');
    const { runId, organizationId, threadId } = this.options.run;
    return {
      runId,
      organizationId,
      threadId,
      transitions: batch.map((entry) => entry.transition),
      ...(batch[0]?.creation ? { creation: this.options.creation } : {}),
    };
  }
}
