import type { CompiledPlan } from './plan.js';

/* What an edit before approval stores (plan-edit.ts): apart, so the run's state types need nothing more. */

/** One revision of a run's plan, as `plan_revision` keeps it. */
export interface PlanRevisionRecord {
  /** From 1, the plan the run was created with. */
  number: number;
  revision: string;
  planHash: string;
  plan: CompiledPlan;
  /** Who made it (absent for the first: the requester's draft). */
  editedBy?: string;
  onBehalfOf?: string;
  editedAt?: string;
}

/** What an edit's transition stores besides the run's fields: the new revision, the one it replaces (kept), and the steps it removed. */
export interface PlanEditRecord {
  /** The edited plan's own spec (specs never change once stored): the run points to it from now on. */
  planSpecId: string;
  current: PlanRevisionRecord;
  /** Written once (a later edit finds it there): the revision the edit replaced. */
  replaced: PlanRevisionRecord;
  removedNodeIds: string[];
}
