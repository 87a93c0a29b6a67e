import { PlanError } from '../domain/errors.js';
import { ApprovalPolicySchema, type PolicyRecord } from '../domain/policy.js';
import { type PolicyTrial, trialOf } from '../domain/policy-trial.js';
import { rulesSelectors } from '../domain/policy-rules.js';
import { matchesSelector } from '../domain/approval.js';
import { type PolicyTrialRequest, PolicyTrialRequestSchema, parseRequest } from '../domain/requests.js';
import { type ValidationContext, compileDraft } from '../domain/validate.js';
import type { PlanStore, PolicyChange } from '../storage/plan-store.js';
import type { Admission } from './admission.js';

/** Organizations' approval policies: read, changed (a new version each time), and their history. */
export class PoliciesClient {
  constructor(
    private readonly store: PlanStore,
    private readonly admission: Admission,
    /** How a draft is validated here (the agents the workers run), as a create validates it. */
    private readonly validation: ValidationContext = {},
  ) {}

  /** The policy in force (the defaults, version 0, when never set). */
  get(organizationId: string): Promise<PolicyRecord> {
    return this.store.policies.get(organizationId);
  }

  /** Validates `policy` (defaults filled in) and makes it the organization's next version, recorded as `changedBy`'s. */
  async set(organizationId: string, policy: unknown, changedBy: string): Promise<PolicyRecord> {
    const parsed = parseRequest(ApprovalPolicySchema, policy, 'policy');
    await this.checkStagesReachable(organizationId, parsed);
    return this.store.policies.set(organizationId, parsed, changedBy);
  }

  /**
   * Refuses a policy whose rule stages or escalations name nobody the organization has: a plan
   * routed there would wait for no one. Each is named by its field.
   */
  private async checkStagesReachable(organizationId: string, policy: PolicyRecord['policy']): Promise<void> {
    // Who a rule's stage or approvers, or an escalation, routes to (a rule's requester condition is not a route).
    const named = rulesSelectors(policy).filter(({ path }) => !path.includes('requester'));
    if (named.length === 0) return;
    const persons = (await this.store.principals.list(organizationId)).filter((principal) => principal.kind === 'person');
    const byField = new Map<string, string[]>();
    for (const { path, selector } of named) byField.set(path.join('.'), [...(byField.get(path.join('.')) ?? []), selector]);
    const empty = [...byField].filter(
      ([, selectors]) => !persons.some((person) => selectors.some((selector) => matchesSelector(person, selector))),
    );
    if (empty.length > 0)
      throw new PlanError(
        'invalid-input',
        `Invalid policy: ${empty.map(([field, selectors]) => `${field}: nobody of ${organizationId} is ${selectors.join(' or ')} (a person must be)`).join('; ')}.`,
      );
  }

  /**
   * A dry run: what a draft (or a stored run's plan) would be held to if created now by
   * `requester`, under the policy in force or a proposed one. Refusals are listed, not thrown;
   * a draft that does not validate is refused as a create would be. Nothing is stored.
   */
  async trial(request: PolicyTrialRequest, caller: string, namesEligible = true): Promise<PolicyTrial> {
    const { organizationId } = parseRequest(PolicyTrialRequestSchema, request, 'policy test');
    const current = await this.store.policies.get(organizationId);
    const record =
      request.policy === undefined
        ? current
        : { policy: parseRequest(ApprovalPolicySchema, request.policy, 'policy'), version: current.version + 1 };
    let plan;
    let requester = request.requester ?? caller;
    let threads = { threadId: request.threadId ?? `policy-test:${requester}`, sourceThreadId: request.sourceThreadId };
    if (request.runId !== undefined) {
      const run = await this.store.runs.getSnapshot(request.runId);
      if (!run || run.organizationId !== organizationId) throw new PlanError('not-found', `Plan run ${request.runId} not found.`);
      plan = (await this.store.runs.getPlan(run.planSpecId))!;
      requester = request.requester ?? run.createdByAgentId ?? run.leadAgentId;
      threads = { threadId: request.threadId ?? run.threadId, sourceThreadId: request.sourceThreadId ?? run.sourceThreadId ?? undefined };
    } else plan = compileDraft(request.draft, this.validation);
    const problems: string[] = [];
    const gate = await this.admission.admit({ organizationId, leadAgentId: requester, threads }, plan, { record, problems });
    const directory = namesEligible ? await this.store.principals.list(organizationId) : null;
    return trialOf(
      { organizationId, proposed: request.policy !== undefined, runId: request.runId ?? null, requester, problems },
      gate.rules,
      gate.requireApproval,
      directory,
    );
  }

  /** Every version, newest first: what it said, who set it, when. */
  history(organizationId: string): Promise<PolicyChange[]> {
    return this.store.policies.history(organizationId);
  }
}
