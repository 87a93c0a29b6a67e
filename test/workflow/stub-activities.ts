import type { AttachedSchedule, ExecuteNodeResult, PlanActivities } from '../../activities/contract.js';
import type { ApprovalRules, Decider } from '../../domain/approval.js';
import { planHashOf, revisionOf } from '../../client/revision.js';
import { draftOf } from '../../domain/draft-of.js';
import type { PlanErrorCode } from '../../domain/errors.js';
import { diffPlans } from '../../domain/plan-diff.js';
import { type EditAdmission, applyPlanPatch } from '../../domain/plan-edit.js';
import { DEFAULT_APPROVAL_POLICY, freezeRules } from '../../domain/policy.js';
import { compileDraft } from '../../domain/validate.js';
import type { PersistTransitionsInput } from '../../domain/run-record.js';
import type { StandingApproval } from '../../domain/standing.js';
import { type RunCreation, type Transition, artifactIdOf } from '../../domain/run-state.js';
import { scheduleIdOf } from '../../temporal/names.js';

/**
 * `PlanActivities` in memory, for the workflow tier: no SurrealDB, no Temporal Schedules, no
 * agents. It keeps what the workflow hands it so a test can read the run's stored record, the
 * lookups it made and the nodes it ran, and it answers lookups from a directory the test edits.
 */
export class StubActivities {
  /** Each run's stored record, as a store applying the transitions handed to it would hold it. */
  private readonly runs = new Map<string, { creation?: RunCreation; transitions: Transition[] }>();
  /** The directory `findPrincipal` answers from, by organization then principal id. */
  private readonly directories = new Map<string, Map<string, Decider>>();
  /** Canned outputs of agent nodes, by agent id. */
  private readonly outputs = new Map<string, unknown>();
  /** The standing approvals `findStanding` answers with, by id (edit it to revoke one). */
  readonly standing = new Map<string, StandingApproval>();
  /** What `admitEdit` answers: a refusal when set; else the draft compiled, with these rules (the policy's for the edited plan). */
  editRefusal: { code: PlanErrorCode; message: string } | undefined;
  editRules: ApprovalRules = freezeRules({ policy: DEFAULT_APPROVAL_POLICY, version: 0 }, undefined, []);
  /** Every `findPrincipal` call, in order: `organizationId/principalId`. */
  readonly lookups: string[] = [];
  /** Every node attempt run, in order: `runId/nodeId#attempt`. */
  readonly attempts: string[] = [];

  /** The people and agents of `organizationId` (an empty directory at first; edit it to change who is who). */
  directory(organizationId: string): Map<string, Decider> {
    let directory = this.directories.get(organizationId);
    if (!directory) this.directories.set(organizationId, (directory = new Map()));
    return directory;
  }

  /** Adds principals to `organizationId`'s directory: persons with the approver role unless said otherwise. */
  know(organizationId: string, ...principals: Array<string | Decider>): void {
    for (const principal of principals) {
      const who: Decider = typeof principal === 'string' ? { id: principal, kind: 'person', roles: ['approver'] } : principal;
      this.directory(organizationId).set(who.id, who);
    }
  }

  /** What agent `agentId` answers whenever one of its nodes runs. */
  answer(agentId: string, output: unknown): void {
    this.outputs.set(agentId, output);
  }

  /** The transitions stored for `runId`, 1..n. */
  transitions(runId: string): Transition[] {
    return this.runs.get(runId)?.transitions ?? [];
  }

  creation(runId: string): RunCreation | undefined {
    return this.runs.get(runId)?.creation;
  }

  /** The stored events of `runId`, in order, as `eventType:emittedBy` (checkpoints left out). */
  events(runId: string): string[] {
    return this.transitions(runId)
      .flatMap((transition) => transition.events)
      .filter((event) => event.eventType !== 'checkpoint-saved')
      .map((event) => `${event.eventType}:${event.emittedBy}`);
  }

  /**
   * Stores as the real store does (storage/plan-store.ts, via activities/store-committed.ts):
   * a transition already applied is skipped (a carried one may be sent again); one that would
   * leave a gap is a bug in the workflow, and fails the activity so the test sees it.
   */
  private store(input: PersistTransitionsInput): void {
    let run = this.runs.get(input.runId);
    if (!run) this.runs.set(input.runId, (run = { transitions: [] }));
    if (input.creation && !run.creation) run.creation = input.creation;
    for (const transition of input.transitions) {
      const last = run.transitions.length;
      if (transition.sequence <= last) continue;
      if (transition.sequence !== last + 1)
        throw new Error(`run ${input.runId}: transition ${transition.sequence} handed over after ${last}`);
      run.transitions.push(structuredClone(transition));
    }
  }

  /** The activities a worker registers. */
  get activities(): PlanActivities {
    return {
      persistTransitions: async (input) => {
        this.store(input);
        return { notify: [] };
      },
      notifyEvents: async ({ sequences }) => ({ delivered: sequences.length }),
      attachSchedule: async ({ run, schedule }): Promise<AttachedSchedule> => ({
        scheduleId: scheduleIdOf(run.planSpecId),
        description: `stub of ${JSON.stringify(schedule)}`,
      }),
      refreshSchedule: async () => {},
      deleteSchedule: async () => {},
      findStanding: async ({ organizationId, standingId }) => {
        const found = this.standing.get(standingId);
        return found && found.organizationId === organizationId ? found : null;
      },
      findPrincipal: async ({ organizationId, principalId }) => {
        this.lookups.push(`${organizationId}/${principalId}`);
        const who = this.directory(organizationId).get(principalId);
        return who ? structuredClone(who) : null;
      },
      admitEdit: async ({ current, edit }): Promise<EditAdmission> => {
        if (this.editRefusal) return { refusal: this.editRefusal };
        const draft =
          edit.draft ?? applyPlanPatch(draftOf(current) as unknown as Record<string, unknown>, edit.patch as Record<string, unknown>);
        const plan = compileDraft(draft);
        return {
          edit: { plan, revision: revisionOf(plan), planHash: planHashOf(plan), rules: this.editRules, diff: diffPlans(current, plan) },
        };
      },
      executeNode: async (input): Promise<ExecuteNodeResult> => {
        if (input.persist) this.store(input.persist);
        this.attempts.push(`${input.runId}/${input.nodeId}#${input.attempt}`);
        const { executor } = input;
        if (executor.type !== 'agent') return { artifactIds: [] };
        if (!this.outputs.has(executor.agentId)) throw new Error(`No canned output for agent "${executor.agentId}".`);
        return { artifactIds: [artifactIdOf(input.runId, input.nodeId, input.attempt)] };
      },
    };
  }
}
