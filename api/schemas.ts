import { z } from 'zod';

import * as answers from './answer-schemas.js';
import * as requests from './request-schemas.js';
import * as runs from './run-answer-schemas.js';
import { PlanDraftSchema } from '../domain/draft.js';

/**
 * The HTTP API's requests and answers as zod schemas: routes are registered with them (requests
 * are checked by them, answers encoded by them) and the OpenAPI document is generated from them,
 * so the document cannot drift from what is served. They are defined by capability — what is
 * sent (request-schemas.ts), what is answered about runs (run-answer-schemas.ts), every other
 * answer (answer-schemas.ts) — and named here, where the routes import them from.
 */

/** Registers a schema as the document's component `id`: wherever it is used, the document refers to it. */
const named = <T extends z.ZodType>(id: string, schema: T): T => {
  z.globalRegistry.add(schema, { id });
  return schema;
};

// The components, in the document's order (registering them in another order reorders the document).
named('PlanDraft', PlanDraftSchema); // documented for DraftInput (request-schemas.ts)
named('CreatePlanBody', requests.CreatePlanBodySchema);
named('ReplacePlanBody', requests.ReplacePlanBodySchema);
named('Credential', runs.CredentialSchema);
named('DecisionBody', requests.DecisionBodySchema);
named('CompleteNodeBody', requests.CompleteNodeBodySchema);
named('AbortBody', requests.AbortBodySchema);
named('ScheduleNoteBody', requests.ScheduleNoteBodySchema);
named('SubscriptionBody', requests.SubscriptionBodySchema);
named('DoctorBody', requests.DoctorBodySchema);
named('Error', answers.ErrorSchema);
named('Event', runs.EventSchema);
named('FeedEvent', runs.FeedEventSchema);
named('PlanSnapshot', runs.PlanSnapshotSchema);
named('PlanDiff', runs.PlanDiffSchema);
named('PlanDraftView', runs.PlanDraftViewSchema);
named('PlanReview', runs.PlanReviewSchema);
named('StepRecords', runs.StepRecordsSchema);
named('EditPreview', runs.EditPreviewSchema);
named('PlanSummary', runs.PlanSummarySchema);
named('RunSchedule', answers.RunScheduleSchema);
named('Schedule', answers.ScheduleSchema);
named('Subscription', answers.SubscriptionSchema);
named('NewSubscription', answers.NewSubscriptionSchema);
named('Principal', answers.PrincipalViewSchema);
named('TokenBody', requests.TokenBodySchema);
named('NewToken', answers.NewTokenSchema);
named('Token', answers.TokenSchema);
named('PrincipalState', answers.PrincipalStateSchema);
named('PolicyBody', requests.PolicyBodySchema);
named('ApprovalPolicy', answers.PolicySchema);
named('ApprovalPolicyChange', answers.PolicyChangeSchema);
named('PolicyTrialBody', requests.PolicyTrialBodySchema);
named('PolicyTrial', answers.PolicyTrialSchema);
named('SecretBody', requests.SecretBodySchema);
named('Secret', answers.SecretSchema);
named('DelegationBody', requests.DelegationBodySchema);
named('Delegation', answers.DelegationSchema);
named('StandingApproval', answers.StandingApprovalSchema);
named('Health', answers.HealthSchema);
named('DoctorReport', answers.DoctorReportSchema);
named('SignedHead', answers.SignedHeadSchema);
named('Receipt', answers.ReceiptSchema);
named('AuditKey', answers.AuditKeySchema);
named('AuditVerification', answers.AuditVerifySchema);

export * from './request-schemas.js';
export * from './run-answer-schemas.js';
export * from './answer-schemas.js';
