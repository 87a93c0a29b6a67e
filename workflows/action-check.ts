import type { Decider } from '../domain/approval.js';
import { approversToRecheck, earliestApprovalAt, lapseApproval, lapseReasons, mayLapse } from '../domain/approval-lapse.js';
import type { CompiledNode } from '../domain/plan.js';
import type { RunState, StateChange } from '../domain/run-state.js';
import { isHeld } from '../domain/step-verdicts.js';
import { now } from './clock.js';

/** What the check needs of its run. */
export interface CheckedRun {
  state(): RunState;
  specOf(nodeId: string): CompiledNode;
  lookup(principalId: string): Promise<Decider | null>;
  take(step: StateChange): number;
}

/**
 * How long approvers looked up stay looked up, in workflow time, when the directory says nothing
 * changed: the approval itself looks its approvers up, and a client that changes roles, disables
 * a principal or revokes a delegation tells every run acting on them (`approversChanged`). A step
 * starting later than this after the last look (a long agent step, a person's step) looks again
 * whatever it was told: what changed by another way (a delegation running out) is seen then.
 */
export const LOOKED_UP_FOR_MS = 60_000;

/**
 * Re-checked at the moment of action (issue 22; domain/approval-lapse.ts decides): before the
 * run's loop dispatches a step that acts on its own, the approval the run acts on is checked
 * again — its validity in time always, its approvers looked up again when the directory changed
 * or the last look is older than `LOOKED_UP_FOR_MS` — and the steps are cleared to start, or the
 * approval lapses and they do not.
 *
 * 1. It must be asked (`needed`) before every dispatch, and nothing may be dispatched, nor
 *    drained, while it is `busy` (the step that then starts carries what waits to be stored).
 * 2. It must clear only the steps it checked; a dispatch spends what it cleared (`spent`).
 * 3. It must not act on a run that moved on during the lookups (ended, or already pending).
 */
export class ActionCheck {
  /** The ready steps the last check cleared to start; one not in it is checked first. */
  private cleared: ReadonlySet<string> = new Set();
  /** Set while the approvers are looked up again: nothing starts meanwhile. */
  busy = false;
  /** Set when the directory changed for someone the approval rests on, until they are looked up again. */
  private stale: boolean;
  /** Counts the changes told: a lookup made while one arrived does not clear anything. */
  private told = 0;
  /** When the approvers were last looked up here (workflow time). */
  private lookedUpAt: string | undefined;

  constructor(
    private readonly run: CheckedRun,
    /** Whether the run's format checks at all (3 and later). */
    private readonly enabled: boolean,
    /**
     * Whether this execution continues an earlier one, or was fired by a schedule: what the earlier
     * one was told, or what changed since the schedule's run was approved, is not known here, so
     * its first step looks its approvers up.
     */
    looksFirst: boolean,
  ) {
    this.stale = looksFirst;
  }

  /** The ready steps that act on their own (not a person's, not held): what the approval must still hold for. */
  private actingReady(): string[] {
    return this.run
      .state()
      .nodes.filter((node) => {
        const spec = this.run.specOf(node.nodeId);
        return node.status === 'ready' && spec.executor.type !== 'human' && !isHeld(node, spec);
      })
      .map((node) => node.nodeId);
  }

  /** Whether the approval must be checked again before what is ready starts: a step about to act the last check did not clear. */
  needed(): boolean {
    if (!this.enabled || this.busy || !mayLapse(this.run.state())) return false;
    return this.actingReady().some((nodeId) => !this.cleared.has(nodeId));
  }

  /**
   * Looks every approver up again (activities, in parallel), then clears the ready steps or
   * takes the lapse. The hazard: the lookups yield, and the run may move on (aborted, a step
   * finished); the check is made against the run as it then is.
   */
  start(): void {
    const checking = this.actingReady();
    const state = this.run.state();
    const at = now();
    if (!this.stale && this.lookedUpWithin(state, at)) {
      // Nothing changed that the run was told of, and its approvers were looked up a moment ago: only the validity in time.
      const reasons = lapseReasons(state, new Map(), at);
      if (reasons.length > 0) this.run.take(lapseApproval(state, reasons, checking, at));
      else this.cleared = new Set(checking);
      return;
    }
    const approvers = approversToRecheck(state);
    const told = this.told;
    this.busy = true;
    this.stale = false;
    void Promise.all(approvers.map(async (id) => [id, await this.run.lookup(id)] as const))
      .then((found) => {
        this.busy = false;
        // A change told while the lookups were out may not be in what they read: they clear nothing, and it looks again.
        if (this.told !== told) return;
        this.lookedUpAt = at;
        const state = this.run.state();
        if (state.status !== 'running') return;
        const reasons = lapseReasons(state, new Map(found), now());
        if (reasons.length > 0) this.run.take(lapseApproval(state, reasons, checking, now()));
        else this.cleared = new Set(checking);
      })
      // Only a cancelled lookup fails (they retry until they answer): the run ended meanwhile.
      .catch(() => {
        this.busy = false;
      });
  }

  /**
   * Whether every approver was looked up within `LOOKED_UP_FOR_MS` of `at`: here, or by the
   * approvals themselves — each approver when they approved, so the earliest approval counts
   * (a stage approved days ago is looked up again).
   */
  private lookedUpWithin(state: RunState, at: string): boolean {
    const byApprovals = earliestApprovalAt(state);
    const last = [this.lookedUpAt, byApprovals]
      .filter((time): time is string => time !== undefined)
      .sort()
      .at(-1);
    return last !== undefined && Date.parse(at) - Date.parse(last) <= LOOKED_UP_FOR_MS;
  }

  /** The directory changed for someone the approval rests on: the next step looks them up again. */
  invalidate(): void {
    this.stale = true;
    this.told++;
    this.cleared = new Set();
  }

  /** Steps were dispatched: what the check cleared is spent (a step left waiting for a slot is checked again). */
  spent(): void {
    this.cleared = new Set();
  }
}
