import { z } from 'zod';

import { PlanError } from '../../domain/errors.js';
import type { IncludeOptions } from '../../domain/snapshot.js';
import { RUN_STATUSES, type RunStatus } from '../../domain/status.js';
import { NEXT_CURSOR_HEADER, errors, json } from '../openapi.js';
import {
  DecidedRunSchema,
  DiffQuerySchema,
  EditPreviewBodySchema,
  EditPreviewSchema,
  AbortBodySchema,
  CompleteNodeBodySchema,
  CreatePlanBodySchema,
  DecisionBodySchema,
  IncludeQuerySchema,
  PageQuerySchema,
  ListQuerySchema,
  NodeParamsSchema,
  PlanDiffSchema,
  PlanDraftViewSchema,
  PlanReviewSchema,
  PlanSnapshotSchema,
  PlanSummarySchema,
  ReplacePlanBodySchema,
  RunParamsSchema,
  RunScheduleSchema,
  StepRecordsSchema,
  ThreadListQuerySchema,
  ThreadParamsSchema,
} from '../schemas.js';
import type { FastifyReply } from 'fastify';
import { type PlanSnapshot, summaryOf } from '../../domain/snapshot.js';
import { ACTIVE_RUN_STATUSES } from '../../domain/status.js';
import type { Api } from '../types.js';

const INCLUDE_NAMES: Record<string, keyof IncludeOptions> = {
  events: 'includeEvents',
  checkpoints: 'includeCheckpoints',
  approvals: 'includeApprovals',
  artifacts: 'includeArtifacts',
  'validation-issues': 'includeValidationIssues',
};

/** `include=events,checkpoints` → include options; unknown names are refused. */
export function parseInclude(value: string | undefined): IncludeOptions {
  if (value === undefined || value === '') return {};
  const include: IncludeOptions = {};
  for (const name of value.split(',')) {
    const option = INCLUDE_NAMES[name.trim()];
    if (!option) throw new PlanError('invalid-input', `Unknown include "${name}"; use ${Object.keys(INCLUDE_NAMES).join(', ')}.`);
    include[option] = true;
  }
  return include;
}

function parseStatuses(value: string | undefined): RunStatus[] | undefined {
  if (value === undefined || value === '') return undefined;
  return value.split(',').map((status) => {
    if (!(RUN_STATUSES as readonly string[]).includes(status)) {
      throw new PlanError('invalid-input', `Unknown status "${status}"; use ${RUN_STATUSES.join(', ')}.`);
    }
    return status as RunStatus;
  });
}

const Snapshot = PlanSnapshotSchema;

/** Operations that answer a page at a time, with a cursor header to the next. */
export const PAGED_OPERATIONS: ReadonlySet<string> = new Set(['listPlans', 'listThreadPlans', 'listThreadSummaries']);

/** A page's runs as the answer; the cursor to the next page, if any, as its header. */
function paged(reply: FastifyReply, page: { plans: PlanSnapshot[]; nextCursor: string | null }): PlanSnapshot[] {
  if (page.nextCursor) reply.header(NEXT_CURSOR_HEADER, page.nextCursor);
  return page.plans;
}
const tags = ['plans'];

/** Plan runs: create, list, read, decide, complete, abort, replace; a thread's runs. */
export function planRoutes(api: Api): void {
  runReadRoutes(api);
  runChangeRoutes(api);
  threadRoutes(api);
}

/** Create a run, list runs, read one (its review, its schedule, its diff). */
function runReadRoutes(api: Api): void {
  api.post(
    '/v1/plans',
    {
      schema: {
        operationId: 'createPlan',
        summary: 'Create a plan run (one the organization’s policy gates — cross-thread, external calls, … — waits for approval)',
        tags,
        body: CreatePlanBodySchema,
        response: { 201: json('The run as stored', Snapshot), ...errors(400, 401, 403, 413) },
      },
    },
    async (request, reply) => reply.code(201).send(await request.plans.runs.create(request.body)),
  );

  api.get(
    '/v1/plans',
    {
      schema: {
        operationId: 'listPlans',
        summary: 'The organization’s runs by creation context, newest first',
        tags,
        querystring: ListQuerySchema,
        response: {
          200: json(`Runs, newest first: a page of them (more follow when the answer has ${NEXT_CURSOR_HEADER})`, z.array(Snapshot)),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { status, include, ...filters } = request.query;
      const statuses = parseStatuses(status);
      return paged(reply, await request.plans.runs.listPage({ ...filters, ...(statuses ? { statuses } : {}), ...parseInclude(include) }));
    },
  );

  api.get(
    '/v1/plans/:runId',
    {
      schema: {
        operationId: 'getPlan',
        summary: 'One run as stored',
        tags,
        params: RunParamsSchema,
        querystring: IncludeQuerySchema,
        response: { 200: json('The run as stored', Snapshot), ...errors(400, 401, 404) },
      },
    },
    async (request) => request.plans.runs.get(request.params.runId, parseInclude(request.query.include)),
  );

  api.get(
    '/v1/plans/:runId/schedule',
    {
      schema: {
        operationId: 'getPlanSchedule',
        summary: 'The run’s schedule in words, attached or not, and its next fire times',
        tags,
        params: RunParamsSchema,
        response: { 200: json('The run’s schedule', RunScheduleSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => request.plans.runs.schedule(request.params.runId),
  );

  api.get(
    '/v1/plans/:runId/review',
    {
      schema: {
        operationId: 'reviewPlan',
        summary: 'The run as the token’s principal reviews it: every step in full, external calls, whether it may act',
        tags,
        params: RunParamsSchema,
        response: { 200: json('The review', PlanReviewSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => request.plans.runs.review(request.params.runId),
  );

  api.get(
    '/v1/plans/:runId/diff',
    {
      schema: {
        operationId: 'diffPlan',
        summary: 'What changed between revisions of the run’s plan (an edit before approval), or against the run it replaced',
        tags,
        params: RunParamsSchema,
        querystring: DiffQuerySchema,
        response: { 200: json('The changes', PlanDiffSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => request.plans.runs.diff(request.params.runId, request.query.revisions),
  );

  api.get(
    '/v1/plans/:runId/draft',
    {
      schema: {
        operationId: 'getPlanDraft',
        summary: 'The run’s plan written back as the draft that compiles to it: what a person edits',
        tags,
        params: RunParamsSchema,
        response: { 200: json('The draft, with the run’s revision', PlanDraftViewSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => request.plans.runs.draft(request.params.runId),
  );

  api.post(
    '/v1/plans/:runId/draft/diff',
    {
      schema: {
        operationId: 'previewPlanEdit',
        summary: 'What an edited draft would change against the plan as it stands, before approving with it; nothing is stored',
        tags,
        params: RunParamsSchema,
        body: EditPreviewBodySchema,
        response: { 200: json('The changes', EditPreviewSchema), ...errors(400, 401, 404, 413) },
      },
    },
    async (request) => request.plans.runs.previewEdit(request.params.runId, request.body.draft),
  );

  api.get(
    '/v1/plans/:runId/steps/:nodeId',
    {
      schema: {
        operationId: 'getPlanStep',
        summary:
          'A step’s three records, kept apart: as proposed, as approved (with who approved it), as effective (what each attempt was called with)',
        tags,
        params: NodeParamsSchema,
        response: { 200: json('The step’s records', StepRecordsSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => request.plans.runs.step(request.params.runId, request.params.nodeId),
  );
}

/** Decide on a run, replace it, complete its person's node, abort it. */
function runChangeRoutes(api: Api): void {
  const decided = json(
    'The run as stored once the change took effect, with the decider’s receipt (null when the run has no event of theirs in the audit chain)',
    DecidedRunSchema,
  );
  const decision = {
    params: RunParamsSchema,
    body: DecisionBodySchema,
    response: { 200: decided, ...errors(400, 401, 403, 404, 409, 413) },
  };
  api.post(
    '/v1/plans/:runId/approve',
    { schema: { operationId: 'approvePlan', summary: 'Approve a pending run', tags, ...decision } },
    async (request) => request.plans.runs.approve(request.params.runId, request.body),
  );
  api.post(
    '/v1/plans/:runId/reject',
    { schema: { operationId: 'rejectPlan', summary: 'Reject a pending run, or request changes', tags, ...decision } },
    async (request) => request.plans.runs.reject(request.params.runId, request.body),
  );

  api.post(
    '/v1/plans/:runId/replace',
    {
      schema: {
        operationId: 'replacePlan',
        summary: 'Abort an active run and start its replacement',
        tags,
        params: RunParamsSchema,
        body: ReplacePlanBodySchema,
        response: { 201: json('The replacement as stored', Snapshot), ...errors(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request, reply) => reply.code(201).send(await request.plans.runs.replace(request.params.runId, request.body)),
  );

  api.post(
    '/v1/plans/:runId/nodes/:nodeId/complete',
    {
      schema: {
        operationId: 'completeNode',
        summary: 'Complete the node waiting for a person, with its output',
        tags,
        params: NodeParamsSchema,
        body: CompleteNodeBodySchema,
        response: { 200: decided, ...errors(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request) => request.plans.runs.completeNode(request.params.runId, request.params.nodeId, request.body),
  );

  api.post(
    '/v1/plans/:runId/abort',
    {
      schema: {
        operationId: 'abortPlan',
        summary: 'Abort an active run',
        tags,
        params: RunParamsSchema,
        body: AbortBodySchema,
        response: { 200: decided, ...errors(400, 401, 403, 404, 409, 413) },
      },
    },
    async (request) => request.plans.runs.abort(request.params.runId, request.body),
  );
}

/** A thread's active runs, whole or one line each. */
function threadRoutes(api: Api): void {
  api.get(
    '/v1/threads/:threadId/plans',
    {
      schema: {
        operationId: 'listThreadPlans',
        summary: 'A thread’s active runs',
        tags,
        params: ThreadParamsSchema,
        querystring: ThreadListQuerySchema,
        response: { 200: json('The thread’s active runs, newest first: a page of them', z.array(Snapshot)), ...errors(400, 401) },
      },
    },
    async (request, reply) => {
      const { include, ...page } = request.query;
      return paged(
        reply,
        await request.plans.runs.listPage({
          threadId: request.params.threadId,
          statuses: [...ACTIVE_RUN_STATUSES],
          ...page,
          ...parseInclude(include),
        }),
      );
    },
  );

  api.get(
    '/v1/threads/:threadId/summaries',
    {
      schema: {
        operationId: 'listThreadSummaries',
        summary: 'One line per active run of a thread',
        tags,
        params: ThreadParamsSchema,
        querystring: PageQuerySchema,
        response: { 200: json('One line per active run: a page of them', z.array(PlanSummarySchema)), ...errors(400, 401) },
      },
    },
    async (request, reply) =>
      paged(
        reply,
        await request.plans.runs.listPage({ threadId: request.params.threadId, statuses: [...ACTIVE_RUN_STATUSES], ...request.query }),
      ).map(summaryOf),
  );
}
