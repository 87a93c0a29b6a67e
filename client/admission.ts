import { type ApprovalReason, type ApprovalRules, type Decider, eligibleDeciders, skipRefusal } from '../domain/approval.js';
import { destinationOf, egressIssues, hostPort } from '../domain/egress.js';
import { PlanError, type ValidationIssue, formatIssues } from '../domain/errors.js';
import type { CompiledPlan } from '../domain/plan.js';
import { type PolicyRecord, approvalConditionsOf, approvalReasonsOf, freezeRules } from '../domain/policy.js';
import { parameterIssues, routeApproval } from '../domain/policy-rules.js';
import { SINGLE_STAGE, stagesOf } from '../domain/approval-stages.js';
import { secretNamesOf } from '../domain/secret-refs.js';
import { secretsOffHost, unboundSecretsOf } from '../domain/secrets.js';
import { isWebhook } from '../domain/webhook.js';
import type { PlanStore } from '../storage/plan-store.js';
import { planHashOf, revisionOf } from './revision.js';

/** A new run's request as admission reads it: who asks, on which threads, and whether it asks for approval. */
export interface AdmissionRequest {
  organizationId: string;
  leadAgentId: string;
  createdByAgentId?: string;
  requireApproval?: boolean;
  threads: { threadId: string; sourceThreadId?: string | null | undefined };
}

/**
 * A dry run (`plans policy test`): the policy to try (the one in force when absent). What would
 * be refused is added to `problems` instead of thrown; a lead agent that is not an agent is let through.
 */
export interface Trial {
  record?: Pick<PolicyRecord, 'policy' | 'version'>;
  problems: string[];
}

/** What the gate fixes for a new run. */
export interface Gate {
  revision: string;
  /** The plan's whole hash, which standing approvals are bound to. */
  planHash: string;
  rules: ApprovalRules;
  requireApproval: boolean;
}

/**
 * The approval gate of a new run (created, or a replacement): the organization's policy, the
 * reasons the plan needs approval, a draft's narrowing, where it calls out and the secrets it
 * sends — checked before anything is stored or started.
 */
export class Admission {
  constructor(
    private readonly store: PlanStore,
    /** The operator's `PLANS_EGRESS_ALLOW`, read with the organization's policy. */
    private readonly egressAllow: readonly string[],
  ) {}

  /**
   * What the gate fixes for a new run: its revision; the organization's policy in force,
   * tightened by the draft and frozen with who asked and why the plan needs approval (the
   * conditions of the policy's `requireApprovalFor` that hold for it, on `threads`); and whether
   * it waits for approval. A plan that needs it waits, whatever the request says: asked to run
   * without approval, it is refused unless its requester may skip approval under that policy.
   * A plan that needs none runs at once unless the request asks for approval.
   */
  async admit(request: AdmissionRequest, plan: CompiledPlan, trying?: Trial): Promise<Gate> {
    // A trial collects what would be refused, and goes on to say what would be required.
    const refuse = (error: PlanError): void => {
      if (!trying) throw error;
      trying.problems.push(error.message);
    };
    const sendsUnboundSecret = await this.checkSecrets(request.organizationId, plan).catch((error: unknown) => {
      if (error instanceof PlanError) refuse(error);
      else throw error;
      return false;
    });
    const requester = request.createdByAgentId ?? request.leadAgentId;
    // The lead agent is a requester, and a requester may not decide: naming a person there would take their vote away.
    const lead = (await this.store.principals.find(request.organizationId, request.leadAgentId)) ?? null;
    if (lead && lead.kind !== 'agent' && !trying) {
      throw new PlanError(
        'invalid-input',
        `leadAgentId names ${lead.id}, a ${lead.kind} of ${request.organizationId}: the lead agent is an agent.`,
      );
    }
    const record = trying?.record ?? (await this.store.policies.get(request.organizationId));
    const egress = egressIssues(plan, { allow: record.policy.egress?.allow, operatorAllow: this.egressAllow });
    if (egress.length > 0) refuse(new PlanError('invalid-input', formatIssues(egress), egress));
    // The requester is usually the lead agent, already read.
    let looked: { who: Decider | null } | undefined = requester === request.leadAgentId ? { who: lead } : undefined;
    const who = async (): Promise<Decider | null> => {
      looked ??= { who: (await this.store.principals.find(request.organizationId, requester)) ?? null };
      return looked.who;
    };
    // The directory is read only when the policy needs the requester's kind, or a skip is asked.
    const requesterKind = approvalConditionsOf(record.policy).includes('agent-plans') ? ((await who())?.kind ?? null) : null;
    const reasons: ApprovalReason[] = approvalReasonsOf(record.policy, { ...request.threads, plan, requesterKind });
    // A secret bound to no host goes wherever the draft's URL says, the requester's own host too:
    // a person looks first, whatever the policy lists. The plan calls out, so it waits as one that does.
    if (reasons.length === 0 && sendsUnboundSecret) reasons.push('external-calls');
    const parameters = parameterIssues(record.policy.rules, plan);
    if (parameters.length > 0) refuse(new PlanError('invalid-input', formatIssues(parameters), parameters));
    const requesterMatters = record.policy.rules.some((rule) => rule.when.requester !== undefined);
    const routed = routeApproval(record.policy, { plan, requester: requesterMatters ? await who() : null, requesterId: requester });
    // A rule that requires approvers for what the plan does gates it, whatever else holds.
    if (routed.gates) reasons.push('policy-rule');
    let rules: ApprovalRules;
    try {
      rules = freezeRules(record, plan.approval, [request.leadAgentId, requester], reasons, routed);
    } catch (error) {
      if (!(error instanceof PlanError)) throw error;
      refuse(error);
      rules = freezeRules(record, undefined, [request.leadAgentId, requester], reasons, routed);
    }
    // A narrowing to fewer eligible persons than a stage needs would make a plan nobody can approve.
    if (rules.narrowedTo) {
      const principals = await this.store.principals.list(request.organizationId);
      for (const [index, stage] of stagesOf(rules).entries()) {
        const eligible = eligibleDeciders(rules, principals, { stage: index });
        if (eligible.length < stage.required) {
          refuse(
            new PlanError(
              'invalid-input',
              `A draft may only tighten the organization's approval policy: approval.approvers leaves ${eligible.length} eligible ${eligible.length === 1 ? 'person' : 'persons'} (${eligible.map((person) => person.id).join(', ') || 'none'})${stage.name === SINGLE_STAGE ? '' : ` at stage ${stage.name}`} where ${stage.required} must approve.`,
            ),
          );
        }
      }
    }
    if (reasons.length === 0)
      return { revision: revisionOf(plan), planHash: planHashOf(plan), rules, requireApproval: request.requireApproval ?? false };
    if (request.requireApproval === false) {
      if (rules.freshSignInMs !== undefined)
        refuse(
          new PlanError(
            'forbidden',
            'A rule of this organization asks for a fresh sign-in to approve this plan: it cannot start without an approval.',
          ),
        );
      const refusal = skipRefusal(rules.skipApproval, requester, await who(), reasons);
      if (refusal) refuse(refusal);
      return { revision: revisionOf(plan), planHash: planHashOf(plan), rules, requireApproval: !!refusal };
    }
    return { revision: revisionOf(plan), planHash: planHashOf(plan), rules, requireApproval: true };
  }

  /**
   * Refuses a plan that sends a secret its organization does not have (it would fail at that
   * step, after approval), or sends one in a header to a URL the secret's hosts leave out (a
   * secret URL is known only at call time, and checked there). Answers whether it sends a secret
   * bound to no host in a header. Tells a principal that may create plans whether a name exists,
   * which listing secrets does not (admins only): a name is not a secret (docs/secrets-and-egress.md).
   */
  private async checkSecrets(organizationId: string, plan: CompiledPlan): Promise<boolean> {
    const named = plan.nodes.flatMap((node) => secretNamesOf(node.executor).map((name) => ({ nodeId: node.nodeId, name })));
    if (named.length === 0) return false;
    const hosts = new Map((await this.store.secrets.list(organizationId)).map((secret) => [secret.name, secret.hosts]));
    const issues: ValidationIssue[] = named
      .filter(({ name }) => !hosts.has(name))
      .map(({ nodeId, name }) => ({
        code: 'unknown-secret',
        nodeId,
        message: `Node "${nodeId}" sends secret "${name}", which organization ${organizationId} does not have; an admin sets it first (plans secret set ${name}).`,
      }));
    const webhooks = plan.nodes.flatMap((node) => (isWebhook(node.executor) ? [{ nodeId: node.nodeId, executor: node.executor }] : []));
    for (const { nodeId, executor } of webhooks) {
      if (typeof executor.url !== 'string') continue;
      const host = hostPort(destinationOf(executor.url));
      for (const name of secretsOffHost(executor, executor.url, (name) => hosts.get(name))) {
        issues.push({
          code: 'secret-host',
          nodeId,
          message: `Node "${nodeId}" sends secret "${name}" to ${host}, a host the secret is not bound to; only an admin binds it elsewhere (plans secret set ${name} --host HOST).`,
        });
      }
    }
    if (issues.length > 0) throw new PlanError('invalid-input', formatIssues(issues), issues);
    return webhooks.some(({ executor }) => unboundSecretsOf(executor, (name) => hosts.get(name)).length > 0);
  }
}
