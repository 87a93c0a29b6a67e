import { z } from 'zod';

import {
  AbortBodySchema,
  CompleteNodeBodySchema,
  CreatePlanBodySchema,
  DecisionBodySchema,
  DoctorBodySchema,
  DoctorReportSchema,
  ErrorSchema,
  PlanSnapshotSchema,
  ReplacePlanBodySchema,
  ScheduleNoteBodySchema,
  ScheduleSchema,
  SubscriptionBodySchema,
} from './schemas.js';

const jsonSchema = (schema: z.ZodType) => z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' });
const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: object) => ({ content: { 'application/json': { schema } } });
const errors = Object.fromEntries(
  [
    ['400', 'Invalid input (a draft lists every issue)'],
    ['401', 'No or unknown token'],
    ['403', 'Wrong organization or thread context, or a forged actor'],
    ['404', 'Not found (another organization’s runs are not found either)'],
    ['409', 'Not pending, not active, or node not waiting'],
  ].map(([status, description]) => [status, { description, ...json(ref('Error')) }]),
);
const pathParam = (name: string) => ({ name, in: 'path', required: true, schema: { type: 'string' } });
const queryParam = (name: string, description: string) => ({ name, in: 'query', required: false, schema: { type: 'string' }, description });
const include = queryParam('include', 'Comma-separated: events, checkpoints, approvals, artifacts, validation-issues');

function operation(summary: string, options: { body?: string; answer?: object; status?: string; parameters?: object[] }) {
  return {
    summary,
    security: [{ bearer: [] }],
    ...(options.parameters ? { parameters: options.parameters } : {}),
    ...(options.body ? { requestBody: { required: true, ...json(ref(options.body)) } } : {}),
    responses: {
      [options.status ?? '200']: options.answer ? { description: 'OK', ...json(options.answer) } : { description: 'Done' },
      ...errors,
    },
  };
}

const snapshot = ref('PlanSnapshot');
const snapshots = { type: 'array', items: snapshot };

/** The OpenAPI 3.1 document of the HTTP API, generated from the zod schemas the API is built on. */
export function openApiDocument(): object {
  return {
    openapi: '3.1.0',
    info: {
      title: 'execution-plans API',
      version: '1',
      description:
        'Durable execution plans for AI agents. Every /v1 route needs `Authorization: Bearer <token>`; the token decides the organization and who acts.',
    },
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } },
      schemas: {
        CreatePlanBody: jsonSchema(CreatePlanBodySchema),
        ReplacePlanBody: jsonSchema(ReplacePlanBodySchema),
        DecisionBody: jsonSchema(DecisionBodySchema),
        CompleteNodeBody: jsonSchema(CompleteNodeBodySchema),
        AbortBody: jsonSchema(AbortBodySchema),
        ScheduleNoteBody: jsonSchema(ScheduleNoteBodySchema),
        SubscriptionBody: jsonSchema(SubscriptionBodySchema),
        DoctorBody: jsonSchema(DoctorBodySchema),
        DoctorReport: jsonSchema(DoctorReportSchema),
        PlanSnapshot: jsonSchema(PlanSnapshotSchema),
        Schedule: jsonSchema(ScheduleSchema),
        Error: jsonSchema(ErrorSchema),
      },
    },
    paths: {
      '/healthz': { get: { summary: 'Ready when Temporal, SurrealDB, the worker and the API are up', responses: { '200': { description: 'Ready' }, '503': { description: 'Starting' } } } },
      '/v1/plans': {
        post: operation('Create a plan run (cross-thread plans wait for approval)', { body: 'CreatePlanBody', answer: snapshot, status: '201' }),
        get: operation('The organization’s runs by creation context', {
          answer: snapshots,
          parameters: [
            queryParam('threadId', 'Only this thread'),
            queryParam('sourceThreadId', 'Only runs drafted on behalf of this thread'),
            queryParam('createdByAgentId', 'Only runs drafted by this agent'),
            queryParam('status', 'Comma-separated statuses'),
            queryParam('limit', 'At most this many (1-1000, default 200)'),
            include,
          ],
        }),
      },
      '/v1/me': { get: operation('Who the token stands for', { answer: { type: 'object', properties: { organizationId: { type: 'string' }, actor: { type: 'string' } } } }) },
      '/v1/events': {
        get: {
          ...operation('Server-sent events of the organization, in persisted order; Last-Event-ID resumes', {
            parameters: [queryParam('threadId', 'Only this thread'), queryParam('runId', 'Only this run'), queryParam('after', 'Start after this feed position')],
          }),
          responses: { '200': { description: 'text/event-stream: id = feed position, event = event type, data = the event' }, ...errors },
        },
      },
      '/v1/plans/{runId}': { get: operation('One run as persisted', { answer: snapshot, parameters: [pathParam('runId'), include] }) },
      '/v1/plans/{runId}/schedule': {
        get: operation('The run’s schedule in words, attached or not, and its next fire times', { answer: { type: 'object' }, parameters: [pathParam('runId')] }),
      },
      '/v1/plans/{runId}/approve': { post: operation('Approve a pending run', { body: 'DecisionBody', answer: snapshot, parameters: [pathParam('runId')] }) },
      '/v1/plans/{runId}/reject': { post: operation('Reject a pending run or request changes', { body: 'DecisionBody', answer: snapshot, parameters: [pathParam('runId')] }) },
      '/v1/plans/{runId}/replace': {
        post: operation('Abort an active run and start its replacement', { body: 'ReplacePlanBody', answer: snapshot, status: '201', parameters: [pathParam('runId')] }),
      },
      '/v1/plans/{runId}/abort': { post: operation('Abort an active run', { body: 'AbortBody', answer: snapshot, parameters: [pathParam('runId')] }) },
      '/v1/plans/{runId}/nodes/{nodeId}/complete': {
        post: operation('Complete the node waiting for a person', { body: 'CompleteNodeBody', answer: snapshot, parameters: [pathParam('runId'), pathParam('nodeId')] }),
      },
      '/v1/threads/{threadId}/plans': { get: operation('A thread’s active runs', { answer: snapshots, parameters: [pathParam('threadId'), include] }) },
      '/v1/threads/{threadId}/summaries': { get: operation('One line per active run of a thread', { answer: { type: 'array' }, parameters: [pathParam('threadId')] }) },
      '/v1/schedules/{scheduleId}': {
        get: operation('A schedule and its next fire times', { answer: ref('Schedule'), parameters: [pathParam('scheduleId')] }),
        delete: operation('Delete a schedule', { status: '204', parameters: [pathParam('scheduleId')] }),
      },
      '/v1/subscriptions': {
        post: operation('Subscribe a webhook to event types; the answer carries the signing secret, shown once', {
          body: 'SubscriptionBody',
          answer: { type: 'object' },
          status: '201',
        }),
        get: operation('The organization’s subscriptions (without secrets)', { answer: { type: 'array' } }),
      },
      '/v1/doctor': {
        post: operation('Compare the organization’s stored runs with what Temporal committed, and repair them on request (`plans doctor`)', {
          body: 'DoctorBody',
          answer: ref('DoctorReport'),
        }),
      },
      '/v1/subscriptions/{subscriptionId}': { delete: operation('Delete a subscription', { status: '204', parameters: [pathParam('subscriptionId')] }) },
      '/v1/schedules/{scheduleId}/pause': { post: operation('Pause a schedule', { body: 'ScheduleNoteBody', answer: ref('Schedule'), parameters: [pathParam('scheduleId')] }) },
      '/v1/schedules/{scheduleId}/resume': { post: operation('Resume a schedule', { body: 'ScheduleNoteBody', answer: ref('Schedule'), parameters: [pathParam('scheduleId')] }) },
    },
  };
}
