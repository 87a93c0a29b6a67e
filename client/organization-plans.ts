import { decidingThreadOf } from '../domain/context.js';
import { PlanError } from '../domain/errors.js';
import type { PolicyRecord } from '../domain/policy.js';
import type { Principal, TokenView } from '../domain/principals.js';
import type { IncludeOptions, PlanSnapshot } from '../domain/snapshot.js';
import type { FeedEvent, PolicyChange, Subscription } from '../storage/plan-store.js';
import type { DoctorReport } from './doctor.js';
import type { PlansClient } from './plans-client.js';
import type { IssuedToken } from './principals-client.js';
import type { PlanDiffView, PlanReview } from './reviews-client.js';
import type { RunScheduleView } from './runs-client.js';
import type { ScheduleView } from './schedules-client.js';

/** A request's fields as its sender wrote them; the view sets who sends it. */
type Fields = Record<string, unknown>;
type ActorField = 'emittedBy' | 'createdByAgentId' | 'createdBy';

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
    private readonly plans: PlansClient,
    readonly principal: Principal,
  ) {
    this.organizationId = principal.organizationId;
  }

  readonly runs = {
    create: (request: unknown): Promise<PlanSnapshot> => this.plans.runs.create(this.as(request, 'createdByAgentId') as never),
    replace: (runId: string, request: unknown): Promise<PlanSnapshot> =>
      this.hidingOthers(runId, () => this.plans.runs.replace({ ...this.as(request, 'createdByAgentId'), runId } as never)),
    /** A decision, step or abort that names no thread is taken from the run's deciding thread. */
    approve: (runId: string, request: unknown): Promise<PlanSnapshot> =>
      this.hidingOthers(runId, async () => this.plans.runs.approve({ ...(await this.deciding(runId, this.as(request, 'emittedBy'))), runId } as never)),
    reject: (runId: string, request: unknown): Promise<PlanSnapshot> =>
      this.hidingOthers(runId, async () => this.plans.runs.reject({ ...(await this.deciding(runId, this.as(request, 'emittedBy'))), runId } as never)),
    completeNode: (runId: string, nodeId: string, request: unknown): Promise<PlanSnapshot> =>
      this.hidingOthers(runId, async () =>
        this.plans.runs.completeNode({ ...(await this.deciding(runId, this.as(request, 'emittedBy'))), runId, nodeId } as never),
      ),
    abort: (runId: string, request: unknown): Promise<PlanSnapshot> =>
      this.hidingOthers(runId, async () => this.plans.runs.abort({ ...(await this.deciding(runId, this.as(request, 'emittedBy'))), runId } as never)),
    get: async (runId: string, include: IncludeOptions = {}): Promise<PlanSnapshot> => this.visible(this.own(runId, await this.plans.runs.get(runId, include))),
    /** The run as this principal reviews it: steps in full, and whether it may act. */
    review: async (runId: string): Promise<PlanReview> => {
      await this.runs.get(runId);
      return this.plans.reviews.review(runId, this.principal);
    },
    /** What a replacement changed against the run it replaced. */
    diff: async (runId: string): Promise<PlanDiffView> => {
      await this.runs.get(runId);
      return this.plans.reviews.diff(runId);
    },
    /** S9: the organization's runs by creation context. */
    list: async (query: Fields): Promise<PlanSnapshot[]> => (await this.runs.listPage(query)).plans,
    /** S9 a page at a time, with the cursor to the next. */
    listPage: async (query: Fields): Promise<{ plans: PlanSnapshot[]; nextCursor: string | null }> => {
      const page = await this.plans.runs.listPage(this.as(query) as never);
      return { ...page, plans: page.plans.map((run) => this.visible(run)) };
    },
    schedule: async (runId: string): Promise<RunScheduleView> => {
      await this.runs.get(runId);
      return this.plans.runs.schedule(runId);
    },
  };

  readonly schedules = {
    get: (scheduleId: string, request: unknown = {}): Promise<ScheduleView> => this.plans.schedules.get({ ...this.as(request), scheduleId } as never),
    pause: (scheduleId: string, request: unknown = {}): Promise<ScheduleView> => this.plans.schedules.pause({ ...this.as(request), scheduleId } as never),
    resume: (scheduleId: string, request: unknown = {}): Promise<ScheduleView> => this.plans.schedules.resume({ ...this.as(request), scheduleId } as never),
    delete: (scheduleId: string, request: unknown = {}): Promise<void> => this.plans.schedules.delete({ ...this.as(request), scheduleId } as never),
  };

  readonly subscriptions = {
    /** The answer carries the signing secret, shown once. */
    create: (request: unknown): Promise<Subscription> => this.plans.subscriptions.create(this.as(request, 'createdBy') as never),
    list: (): Promise<Array<Omit<Subscription, 'secret'>>> => this.plans.subscriptions.list(this.organizationId),
    delete: (subscriptionId: string): Promise<void> => this.plans.subscriptions.delete(this.organizationId, subscriptionId),
  };

  readonly feed = {
    /**
     * Up to `limit` stored events after `after`, less those this principal may not read;
     * `through` is the position read up to, so a reader moves past the ones left out, and
     * `more` says the limit was reached.
     */
    read: async (query: { after: number; threadId?: string; runId?: string; limit?: number }): Promise<{ events: FeedEvent[]; through: number; more: boolean }> => {
      const events = await this.plans.feed.read({ ...query, organizationId: this.organizationId });
      return {
        events: events.filter((event) => this.mayRead(event)),
        through: events.at(-1)?.feedSeq ?? query.after,
        more: query.limit !== undefined && events.length >= query.limit,
      };
    },
    position: (): Promise<number> => this.plans.feed.position(this.organizationId),
  };

  /** `plans doctor`: anyone of the organization may look; rewriting records (`repair`) is for admins. */
  readonly records = {
    examine: (request: unknown): Promise<DoctorReport> => {
      const fields = this.as(request);
      if (fields.repair === true) this.requireAdmin('repair stored runs');
      return this.plans.records.examine(fields as never);
    },
  };

  /** The organization's API tokens and their principals: admins only. */
  readonly tokens = {
    create: (request: unknown): Promise<IssuedToken> => {
      this.requireAdmin('create tokens');
      return this.plans.principals.issueToken(this.as(request) as never, this.principal.id);
    },
    list: (): Promise<TokenView[]> => {
      this.requireAdmin('list tokens');
      return this.plans.principals.listTokens(this.organizationId);
    },
    revoke: (tokenId: string): Promise<TokenView> => {
      this.requireAdmin('revoke tokens');
      return this.plans.principals.revokeToken(this.organizationId, tokenId, this.principal.id);
    },
  };

  /** The organization's approval policy: anyone of it may read it, only an admin may change it. */
  readonly policy = {
    get: (): Promise<PolicyRecord> => this.plans.policies.get(this.organizationId),
    set: (policy: unknown): Promise<PolicyRecord> => {
      this.requireAdmin('change the approval policy');
      return this.plans.policies.set(this.organizationId, policy, this.principal.id);
    },
    history: (): Promise<PolicyChange[]> => this.plans.policies.history(this.organizationId),
  };

  private requireAdmin(what: string): void {
    if (!this.principal.roles.includes('admin')) {
      throw new PlanError('forbidden', `Only an admin of ${this.organizationId} may ${what}; ${this.principal.id} is not one.`);
    }
  }

  /** A request as this principal makes it: for its organization, with it as the actor. Naming another is refused. */
  private as(request: unknown, actorField?: ActorField): Fields & { organizationId: string } {
    if (typeof request !== 'object' || request === null || Array.isArray(request)) {
      throw new PlanError('invalid-input', 'The request body must be a JSON object.');
    }
    const fields = request as Fields;
    if (fields.organizationId !== undefined && fields.organizationId !== this.organizationId) {
      throw new PlanError('forbidden', `This token acts for organization ${this.organizationId}, not ${String(fields.organizationId)}.`);
    }
    const { id } = this.principal;
    if (actorField && fields[actorField] !== undefined && fields[actorField] !== id) {
      throw new PlanError('forbidden', `${actorField} is the token's principal (${id}); it cannot be set to another.`);
    }
    return { ...fields, organizationId: this.organizationId, ...(actorField ? { [actorField]: id } : {}) };
  }

  /** The decision, from the run's deciding thread when it names none. */
  private async deciding(runId: string, request: Fields): Promise<Fields> {
    if (request.threadId !== undefined) return request;
    return { ...request, threadId: decidingThreadOf(await this.runs.get(runId)) };
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

  /** The workflow refuses another organization's decider with S4's message; this view answers not-found instead. */
  private async hidingOthers<T>(runId: string, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (error instanceof PlanError && error.code === 'wrong-organization') throw new PlanError('not-found', `Plan run ${runId} was not found.`);
      throw error;
    }
  }
}
