import { decidingThreadOf } from '../domain/context.js';
import type { CheckedCredential } from '../domain/decisions.js';
import type { Delegation } from '../domain/delegations.js';
import { PlanError } from '../domain/errors.js';
import { type Action, type Subject, refusal } from '../domain/permissions.js';
import type { PolicyRecord } from '../domain/policy.js';
import type { PolicyTrial } from '../domain/policy-trial.js';
import type { StandingApproval } from '../domain/standing.js';
import type { StepRecords } from '../domain/step-records.js';
import type { Principal, TokenBody, TokenView } from '../domain/principals.js';
import type {
  AbortBody,
  CompleteNodeBody,
  CreatePlanBody,
  DecisionBody,
  DelegationBody,
  DoctorBody,
  ListQuery,
  PolicyTrialBody,
  ReplacePlanBody,
  ScheduleNoteBody,
  SubscriptionBody,
} from '../domain/requests.js';
import type { IncludeOptions, PlanSnapshot } from '../domain/snapshot.js';
import type { AuditPublicKey, ExportLine } from '../audit/chain.js';
import type { DecidedRun } from './audit-client.js';
import type {
  AuditReceipt,
  LiveVerifyReport,
  ExportWindow,
  FeedEvent,
  PolicyChange,
  ScheduleRecord,
  SecretView,
  Subscription,
} from '../storage/plan-store.js';
import type { DoctorReport } from './doctor.js';
import type { IssuedToken } from './principals-client.js';
import type { DraftView, EditPreview, PlanDiffView, PlanReview } from './reviews-client.js';
import type { RunScheduleView } from './runs-client.js';
import type { ScheduleView } from './schedules-client.js';
import type { PlansServices } from './services.js';

/** A request's fields as its sender wrote them; the view sets who sends it. */
type Fields = { organizationId?: string | undefined };
type ActorField = 'emittedBy' | 'createdByAgentId' | 'createdBy';

/** A body as the view sends it on: for its organization, with its principal as `F` (when one acts). */
type Scoped<T, F extends ActorField = never> = Omit<T, 'organizationId' | F> & { organizationId: string } & { [K in F]: string };

/**
 * One organization's view of execution plans, acting as one principal. Every read is scoped to
 * the organization and another organization's run or schedule is not found, decisions included
 * (I7: a refusal must not reveal that an id exists elsewhere). Every write acts for the
 * organization, as the principal: a request naming another organization or actor is refused
 * rather than believed. The HTTP API only ever acts through such a view.
 */
export class OrganizationPlans {
  readonly organizationId: string;

  constructor(
    private readonly plans: PlansServices,
    readonly principal: Principal,
    /** Whether the data dir's operator token acts (for the first admin): it alone mints a token for another person. */
    private readonly isOperator = false,
    /** What the principal signed in with: every decision, step and abort it sends records it (never what a request says). */
    private readonly credential?: CheckedCredential,
  ) {
    this.organizationId = principal.organizationId;
  }

  readonly runs = {
    create: (request: CreatePlanBody): Promise<PlanSnapshot> => this.plans.runs.create(this.as(request, 'createdByAgentId')),
    replace: async (runId: string, request: ReplacePlanBody): Promise<PlanSnapshot> => {
      this.require('runs.replace', { requestedBy: (await this.runs.get(runId)).createdByAgentId });
      return this.hidingOthers(runId, () =>
        this.plans.runs.replace({ ...this.as(request, 'createdByAgentId'), runId, ...this.signedWith() }),
      );
    },
    /** A decision, step or abort that names no thread is taken from the run's deciding thread. */
    approve: (runId: string, request: DecisionBody): Promise<DecidedRun> =>
      this.decide(runId, async () =>
        this.plans.runs.approve({ ...(await this.deciding(runId, this.as(request, 'emittedBy'))), runId, ...this.signedWith() }),
      ),
    reject: (runId: string, request: DecisionBody): Promise<DecidedRun> =>
      this.decide(runId, async () =>
        this.plans.runs.reject({ ...(await this.deciding(runId, this.as(request, 'emittedBy'))), runId, ...this.signedWith() }),
      ),
    completeNode: (runId: string, nodeId: string, request: CompleteNodeBody): Promise<DecidedRun> =>
      this.decide(runId, async () =>
        this.plans.runs.completeNode({
          ...(await this.deciding(runId, this.as(request, 'emittedBy'))),
          runId,
          nodeId,
          ...this.signedWith(),
        }),
      ),
    abort: async (runId: string, request: AbortBody): Promise<DecidedRun> => {
      const run = await this.runs.get(runId);
      this.require('runs.abort', { requestedBy: run.createdByAgentId });
      return this.decide(runId, async () =>
        this.plans.runs.abort({ ...(await this.deciding(run, this.as(request, 'emittedBy'))), runId, ...this.signedWith() }),
      );
    },
    get: async (runId: string, include: IncludeOptions = {}): Promise<PlanSnapshot> =>
      this.visible(this.own(runId, await this.plans.runs.get(runId, include))),
    /** The run as this principal reviews it: steps in full, and whether it may act. */
    review: async (runId: string): Promise<PlanReview> => {
      await this.runs.get(runId);
      return this.plans.reviews.review(runId, this.principal);
    },
    /** The run's plan written back as a draft. */
    draft: async (runId: string): Promise<DraftView> => {
      await this.runs.get(runId);
      return this.plans.reviews.draft(runId);
    },
    /** What an edit (revisions `A..B`, or the last one) or a replacement changed. */
    diff: async (runId: string, revisions?: string): Promise<PlanDiffView> => {
      await this.runs.get(runId);
      return this.plans.reviews.diff(runId, revisions);
    },
    /** What an edited draft would change, before approving with it. */
    previewEdit: async (runId: string, draft: unknown): Promise<EditPreview> => {
      await this.runs.get(runId);
      return this.plans.reviews.previewEdit(runId, draft);
    },
    /** A step's three records: proposed, approved, effective. */
    step: async (runId: string, nodeId: string): Promise<StepRecords> => {
      await this.runs.get(runId);
      return this.plans.reviews.stepRecords(runId, nodeId);
    },
    /** S9: the organization's runs by creation context. */
    list: async (query: ListQuery): Promise<PlanSnapshot[]> => (await this.runs.listPage(query)).plans,
    /** S9 a page at a time, with the cursor to the next. */
    listPage: async (query: ListQuery): Promise<{ plans: PlanSnapshot[]; nextCursor: string | null }> => {
      const page = await this.plans.runs.listPage(this.as(query));
      return { ...page, plans: page.plans.map((run) => this.visible(run)) };
    },
    schedule: async (runId: string): Promise<RunScheduleView> => {
      await this.runs.get(runId);
      return this.plans.runs.schedule(runId);
    },
  };

  readonly schedules = {
    get: (scheduleId: string, request: ScheduleNoteBody = {}): Promise<ScheduleView> =>
      this.plans.schedules.get({ ...this.as(request), scheduleId }),
    pause: async (scheduleId: string, request: ScheduleNoteBody = {}): Promise<ScheduleView> => {
      const fields = this.as(request, 'emittedBy');
      await this.scheduleRecord(scheduleId); // another organization's is not found, before any refusal
      this.require('schedules.pause');
      return this.plans.schedules.pause({ ...fields, scheduleId });
    },
    resume: async (scheduleId: string, request: ScheduleNoteBody = {}): Promise<ScheduleView> => {
      const fields = this.as(request, 'emittedBy');
      this.require('schedules.resume', { pausedBy: (await this.scheduleRecord(scheduleId)).pausedBy ?? null });
      return this.plans.schedules.resume({ ...fields, scheduleId });
    },
    delete: async (scheduleId: string, request: ScheduleNoteBody = {}): Promise<void> => {
      const fields = this.as(request);
      await this.scheduleRecord(scheduleId);
      this.require('schedules.delete');
      return this.plans.schedules.delete({ ...fields, scheduleId });
    },
  };

  /**
   * Webhook subscriptions: the organization's (every event, no approval links) are an admin's; a
   * person's own destination (`personal: true`, their approval links) is theirs. Others see
   * neither the organization's nor another person's.
   */
  readonly subscriptions = {
    /** The answer carries the signing secret, shown once. */
    create: (request: SubscriptionBody): Promise<Subscription> => {
      const fields = this.as(request, 'createdBy');
      this.require(fields.personal === true ? 'subscriptions.own' : 'subscriptions.manage');
      return this.plans.subscriptions.create(fields);
    },
    list: async (): Promise<Array<Omit<Subscription, 'secret'>>> => {
      const all = await this.plans.subscriptions.list(this.organizationId);
      const othersPersonal = (subscription: { principalId: string | null }) =>
        subscription.principalId !== null && subscription.principalId !== this.principal.id;
      if (!this.may('subscriptions.manage')) return all.filter((subscription) => subscription.principalId === this.principal.id);
      // A person's destination receives links that act as them: to anyone else (admins too) it shows as its origin only.
      return all.map((subscription) =>
        othersPersonal(subscription) ? { ...subscription, url: `${new URL(subscription.url).origin}/…` } : subscription,
      );
    },
    delete: async (subscriptionId: string): Promise<void> => {
      const subscription = await this.plans.subscriptions.get(this.organizationId, subscriptionId);
      const mayDelete = subscription.principalId
        ? this.may('subscriptions.own', { ownedBy: subscription.principalId })
        : this.may('subscriptions.manage');
      // Another's subscription is as absent as one that does not exist.
      if (!mayDelete) throw new PlanError('not-found', `Subscription ${subscriptionId} was not found.`);
      return this.plans.subscriptions.delete(this.organizationId, subscriptionId);
    },
  };

  readonly feed = {
    /**
     * Up to `limit` stored events after `after`, less those this principal may not read;
     * `through` is the position read up to, so a reader moves past the ones left out, and
     * `more` says the limit was reached.
     */
    read: async (query: {
      after: number;
      threadId?: string;
      runId?: string;
      limit?: number;
    }): Promise<{ events: FeedEvent[]; through: number; more: boolean }> => {
      const events = await this.plans.feed.read({ ...query, organizationId: this.organizationId });
      return {
        events: events.filter((event) => this.mayRead(event)),
        through: events.at(-1)?.feedSeq ?? query.after,
        more: query.limit !== undefined && events.length >= query.limit,
      };
    },
    position: (): Promise<number> => this.plans.feed.position(this.organizationId),
  };

  /** `plans doctor`: admins only (it reads every run of the organization and can rewrite records). */
  readonly records = {
    examine: (request: DoctorBody): Promise<DoctorReport> => {
      const fields = this.as(request);
      this.require('doctor.run');
      return this.plans.records.examine(fields);
    },
  };

  /**
   * The organization's audit chain (docs/auditing.md). Exporting and verifying it are an admin's
   * (or the operator's: an export is how a record leaves a stack that lost its admins); anyone of
   * the organization may read its public keys and a receipt of a run it can read.
   */
  readonly audit = {
    exportLines: (window: ExportWindow): AsyncGenerator<ExportLine> => {
      this.require('audit.read');
      return this.plans.audit.exportLines(this.organizationId, window);
    },
    verify: (): Promise<LiveVerifyReport> => {
      this.require('audit.read');
      return this.plans.audit.verify(this.organizationId);
    },
    keys: (): Promise<AuditPublicKey[]> => this.plans.audit.keys(this.organizationId),
    rotateKey: (): Promise<AuditPublicKey> => {
      this.require('audit.keys');
      return this.plans.audit.rotateKey(this.organizationId);
    },
    /** A receipt of one of the run's events: by sequence, else the last one `by` (default: this principal) emitted. */
    receipt: async (runId: string, which: { sequence?: number; by?: string } = {}): Promise<AuditReceipt | null> => {
      await this.runs.get(runId);
      return this.plans.audit.receipt(
        this.organizationId,
        runId,
        which.sequence === undefined ? { emittedBy: which.by ?? this.principal.id } : { sequence: which.sequence },
      );
    },
  };
  /** The organization whose metrics this principal may read (`GET /metrics`): an admin reads their own organization's. */
  metricsOrganization(): string {
    this.require('metrics.read');
    return this.organizationId;
  }

  /** The organization's API tokens and their principals: admins only. */
  readonly tokens = {
    create: async (request: TokenBody): Promise<IssuedToken> => {
      this.require('tokens.manage');
      const fields = this.as(request);
      // A token is the power to act as its principal: an admin who minted one for alice could approve as alice.
      const existing =
        typeof fields.principalId === 'string' ? await this.plans.principals.find(this.organizationId, fields.principalId) : undefined;
      if (existing?.kind === 'person' && existing.id !== this.principal.id && !this.isOperator) {
        throw new PlanError(
          'forbidden',
          `Only the operator (plans token create on the stack's machine) mints a token for another person; ${existing.id} makes their own.`,
        );
      }
      return this.plans.principals.issueToken(fields, this.principal.id);
    },
    list: (): Promise<TokenView[]> => {
      this.require('tokens.manage');
      return this.plans.principals.listTokens(this.organizationId);
    },
    revoke: (tokenId: string): Promise<TokenView> => {
      this.require('tokens.manage');
      return this.plans.principals.revokeToken(this.organizationId, tokenId, this.principal.id);
    },
  };

  /** Disabling a principal stops every token and link of it at once (someone leaving, a compromised agent): admins only. */
  readonly principals = {
    setDisabled: (principalId: string, disabled: boolean): Promise<{ organizationId: string; principalId: string; disabled: boolean }> => {
      this.require('principals.disable');
      if (principalId === this.principal.id && disabled)
        throw new PlanError('invalid-input', 'You cannot disable yourself; another admin (or the operator) can.');
      return this.plans.principals.setDisabled(this.organizationId, principalId, disabled, this.principal.id);
    },
  };

  /** The organization's approval policy: anyone of it may read it, only an admin may change it. */
  readonly policy = {
    get: (): Promise<PolicyRecord> => this.plans.policies.get(this.organizationId),
    set: (policy: unknown): Promise<PolicyRecord> => {
      this.require('policy.change');
      return this.plans.policies.set(this.organizationId, policy, this.principal.id);
    },
    history: (): Promise<PolicyChange[]> => this.plans.policies.history(this.organizationId),
    /**
     * A dry run, open to anyone of the organization (an agent tries its drafts); nothing is
     * stored. Trying a proposed policy, and seeing who holds each stage's roles, are an admin's:
     * otherwise anyone could list who has which role.
     */
    test: (body: PolicyTrialBody): Promise<PolicyTrial> => {
      if (body.policy !== undefined) this.require('policy.change');
      return this.plans.policies.trial(this.as(body), this.principal.id, this.may('policy.change'));
    },
  };

  /** The organization's secrets: admins only, and no answer carries a value (steps get them at call time, activities/index.ts). */
  readonly secrets = {
    set: (name: string, request: unknown): Promise<SecretView> => {
      this.require('secrets.manage');
      return this.plans.secrets.set(this.organizationId, name, request, this.principal.id);
    },
    list: (): Promise<SecretView[]> => {
      this.require('secrets.manage');
      return this.plans.secrets.list(this.organizationId);
    },
    delete: (name: string): Promise<void> => {
      this.require('secrets.manage');
      return this.plans.secrets.delete(this.organizationId, name);
    },
  };

  /**
   * Delegations: a person delegates their own approvals (an admin anyone's); a person sees and
   * revokes those from or to them, an admin every one. Another's is as absent as one that does
   * not exist.
   */
  readonly delegations = {
    create: (request: DelegationBody): Promise<Delegation> => {
      const fields = this.as(request, 'createdBy');
      const from = fields.from ?? this.principal.id;
      this.require('delegations.create', { delegator: from });
      return this.plans.delegations.create({ ...fields, from });
    },
    list: (options: { active?: boolean } = {}): Promise<Delegation[]> =>
      this.plans.delegations.list(this.organizationId, {
        ...options,
        ...(this.may('delegations.list-all') ? {} : { involving: this.principal.id }),
      }),
    revoke: async (delegationId: string): Promise<Delegation> => {
      const delegation = await this.plans.delegations.get(this.organizationId, delegationId);
      if (!this.may('delegations.revoke', { delegator: delegation.from, delegate: delegation.to }))
        throw new PlanError('not-found', `Delegation ${delegation.delegationId} was not found.`);
      return this.plans.delegations.revoke(this.organizationId, delegation.delegationId, this.principal.id);
    },
  };

  /** Standing approvals: a person lists and revokes their own, an admin every one; another's is not found. */
  readonly standing = {
    list: (options: { active?: boolean } = {}): Promise<StandingApproval[]> =>
      this.plans.standing.list(this.organizationId, {
        ...options,
        ...(this.may('standing.list-all') ? {} : { approvedBy: this.principal.id }),
      }),
    revoke: async (standingId: string): Promise<StandingApproval> => {
      const standing = await this.plans.standing.get(this.organizationId, standingId);
      if (!this.may('standing.revoke', { approvedBy: standing.approvedBy }))
        throw new PlanError('not-found', `Standing approval ${standingId} was not found.`);
      return this.plans.standing.revoke(this.organizationId, standing.standingId, this.principal.id);
    },
  };

  private scheduleRecord(scheduleId: string): Promise<ScheduleRecord> {
    return this.plans.schedules.record({ organizationId: this.organizationId, scheduleId });
  }

  /** Refuses what the permission table (domain/permissions.ts) does not allow this principal. */
  private require(action: Action, subject: Subject = {}): void {
    // The operator token manages tokens and exports the audit chain, nothing else (api/server.ts lets it reach nothing else).
    if (this.isOperator && (action === 'tokens.manage' || action === 'audit.read')) return;
    const why = refusal(this.principal, action, subject);
    if (why) throw new PlanError('forbidden', why);
  }

  private may(action: Action, subject: Subject = {}): boolean {
    return refusal(this.principal, action, subject) === undefined;
  }

  /**
   * A request as this principal makes it: for its organization, with it as the actor. Naming
   * another is refused, as is a credential (a message records the one the view signed in with).
   */
  private as<T extends Fields, F extends ActorField = never>(request: T, actorField?: F): Scoped<T, F> {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      throw new PlanError('invalid-input', 'The request body must be a JSON object.');
    }
    const fields = request as T & { [K in ActorField | 'credential']?: unknown };
    if (fields.organizationId !== undefined && fields.organizationId !== this.organizationId) {
      throw new PlanError('forbidden', `This token acts for organization ${this.organizationId}, not ${String(fields.organizationId)}.`);
    }
    const { id } = this.principal;
    if (fields.credential !== undefined)
      throw new PlanError('invalid-input', 'credential is not a request field: a decision records the credential it was sent with.');
    if (actorField && fields[actorField] !== undefined && fields[actorField] !== id) {
      throw new PlanError('forbidden', `${actorField} is the token's principal (${id}); it cannot be set to another.`);
    }
    // The one cast of the view: a computed key's type is not tracked.
    return { ...fields, organizationId: this.organizationId, ...(actorField ? { [actorField]: id } : {}) } as Scoped<T, F>;
  }

  /** The credential a message records: this view's own; one named in a request is never believed. */
  private signedWith(): { credential?: CheckedCredential } {
    return this.credential ? { credential: this.credential } : {};
  }

  /** The decision, from the run's deciding thread when it names none. */
  private async deciding<T extends { threadId?: string | undefined }>(
    run: string | PlanSnapshot,
    request: T,
  ): Promise<T & { threadId: string }> {
    if (request.threadId !== undefined) return request as T & { threadId: string };
    // The run, read here unless the caller has it already (abort read it for its permission).
    return { ...request, threadId: decidingThreadOf(typeof run === 'string' ? await this.runs.get(run) : run) };
  }

  /** Refused decisions say who tried what: the organization's admins see them, others see the decisions taken. */
  private visible(run: PlanSnapshot): PlanSnapshot {
    return run.events ? { ...run, events: run.events.filter((event) => this.mayRead(event)) } : run;
  }

  private mayRead(event: { eventType: string }): boolean {
    return event.eventType !== 'decision-refused' || this.principal.roles.includes('admin');
  }

  /** A run of another organization is as absent as one that never existed. */
  private own(runId: string, run: PlanSnapshot): PlanSnapshot {
    if (run.organizationId !== this.organizationId) throw new PlanError('not-found', `Plan run ${runId} was not found.`);
    return run;
  }

  /** A decision, step or abort by this principal, answered with their receipt (AuditClient.decided). */
  private decide(runId: string, write: () => Promise<PlanSnapshot>): Promise<DecidedRun> {
    return this.hidingOthers(runId, async () => this.plans.audit.decided(this.organizationId, await write(), this.principal.id));
  }

  /** The workflow refuses another organization's decider with S4's message; this view answers not-found instead. */
  private async hidingOthers<T>(runId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof PlanError && error.code === 'wrong-organization')
        throw new PlanError('not-found', `Plan run ${runId} was not found.`);
      throw error;
    }
  }
}
