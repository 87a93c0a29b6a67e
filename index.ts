/** execution-plans: the public API for agent platforms embedding plans in their own process. */
export { PlansClient, type PlansClientOptions } from './client/plans-client.js';
export { PlanStore, type RunFilter } from './storage/plan-store.js';
export { openDatabase, type DatabaseOptions } from './storage/database.js';
export { createPlanWorker, type PlanWorkerOptions } from './worker/worker.js';
export { startStack, type Stack, type StartStackOptions } from './app/stack.js';
export type { AgentContext, AgentHandler, AgentRegistry, AgentResult } from './agents/types.js';
export { echoAgent } from './agents/echo.js';
export { httpAgent } from './agents/http.js';
export { defaultAgents } from './agents/registry.js';
export { loadConfig, type StackConfig } from './app/config.js';
export { PlanError, type PlanErrorCode, type ValidationIssue, formatIssues } from './domain/errors.js';
export { validateDraft, compileDraft } from './domain/validate.js';
export { PlanDraftSchema, type PlanDraft, type Executor, type PlanSchedule } from './domain/draft.js';
export type { PlanSnapshot, PlanSummary, IncludeOptions, NodeSnapshot, ApprovalRecord } from './domain/snapshot.js';
export type { Decision } from './domain/decisions.js';
export { RUN_STATUSES, type RunStatus } from './domain/status.js';
export * from './workflows/messages.js';
export { DEFAULT_TASK_QUEUE, SEARCH_ATTRIBUTES, workflowIdOf, scheduleIdOf } from './temporal/names.js';
