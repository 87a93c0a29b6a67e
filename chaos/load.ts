import type { PlanSnapshot } from '../domain/snapshot.js';
import { allRuns } from './checks.js';
import type { Accepted, Organization } from './promises.js';

/** A seeded random source (mulberry32): the same seed drives the same choices. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface LoadTally {
  sent: number;
  accepted: number;
  refused: number;
  /** Cut off by a kill, or unanswered: their outcome is whatever Temporal committed. */
  cutOff: number;
}

const noop = (id: string, dependsOn: string[] = []) => ({
  id,
  title: `Step ${id}`,
  executor: { type: 'system', action: 'noop' },
  dependsOn,
});
const DRAFTS = {
  pending: { title: 'Chaos pending', objective: 'Waits for a person.', nodes: [noop('a'), noop('b', ['a'])] },
  person: {
    title: 'Chaos person',
    objective: 'A pause, then a person.',
    nodes: [
      { id: 'pause', title: 'Pause', executor: { type: 'system', action: 'wait', duration: '300ms' } },
      { id: 'sign', title: 'Sign', executor: { type: 'human', assignee: 'alice' }, dependsOn: ['pause'] },
      noop('after', ['sign']),
    ],
  },
  fanOut: {
    title: 'Chaos fan-out',
    objective: 'Four in parallel.',
    nodes: [noop('s'), noop('l', ['s']), noop('r', ['s']), noop('j', ['l', 'r'])],
  },
  recurring: { title: 'Chaos recurring', objective: 'Fires every 2 seconds.', schedule: { every: '2s' }, nodes: [noop('tick')] },
};

/**
 * A mixed load through the HTTP API, as agents and people make it: plans created pending,
 * running, recurring; approved, rejected, replaced, completed by a person, aborted — decisions
 * on the same run racing. Every answered 2xx is written down as a promise to check.
 */
export class Load {
  readonly accepted: Accepted[] = [];
  readonly tally: LoadTally = { sent: 0, accepted: 0, refused: 0, cutOff: 0 };
  readonly scheduleIds = new Set<string>();
  private readonly pending: string[] = [];
  private readonly waiting: string[] = [];
  private readonly running: string[] = [];

  constructor(
    private readonly apiUrl: () => string,
    private readonly random: () => number,
  ) {}

  private pick<T>(items: readonly T[]): T | undefined {
    return items.length ? items[Math.floor(this.random() * items.length)] : undefined;
  }

  private async call<T>(token: string, method: string, path: string, body?: unknown): Promise<T | undefined> {
    this.tally.sent++;
    try {
      const response = await fetch(`${this.apiUrl()}${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(30_000),
      });
      const text = await response.text();
      const answer = (text ? JSON.parse(text) : {}) as T;
      if (response.ok) {
        this.tally.accepted++;
        return answer;
      }
      this.tally.refused++;
      if (response.status >= 500 && response.status !== 503)
        throw new Error(`${method} ${path} answered ${response.status}: ${JSON.stringify(answer)}`);
      return undefined;
    } catch (error) {
      if (error instanceof Error && error.message.includes(' answered ')) throw error;
      this.tally.cutOff++;
      // The stack is down: look again in a moment rather than spin.
      await new Promise((resolve) => setTimeout(resolve, 250));
      return undefined;
    }
  }

  private async create(org: Organization, kind: keyof typeof DRAFTS, crossThread: boolean): Promise<void> {
    const plan = await this.call<PlanSnapshot>(org.tokens.planner, 'POST', '/v1/plans', {
      threadId: 't-1',
      ...(crossThread ? { sourceThreadId: 't-9' } : {}),
      leadAgentId: 'planner',
      draft: DRAFTS[kind],
    });
    if (!plan) return;
    this.accepted.push({ kind: 'created', organizationId: org.id, runId: plan.runId });
    if (plan.status === 'pending-approval') this.pending.push(plan.runId);
    else this.running.push(plan.runId);
    if (kind === 'person') this.waiting.push(plan.runId);
    if (plan.scheduleId) this.scheduleIds.add(plan.scheduleId);
  }

  /** One step of one actor: what it does is drawn from the seeded source. */
  async step(org: Organization): Promise<void> {
    const roll = this.random();
    if (roll < 0.2) return this.create(org, 'pending', true);
    if (roll < 0.3) return this.create(org, 'person', false);
    if (roll < 0.38) return this.create(org, 'fanOut', false);
    if (roll < 0.4) return this.scheduleIds.size < 2 ? this.create(org, 'recurring', false) : this.create(org, 'fanOut', false);
    const runId = roll < 0.85 ? this.pick(this.pending) : roll < 0.93 ? this.pick(this.waiting) : this.pick(this.running);
    if (!runId) return this.create(org, 'pending', true);
    if (roll < 0.6) {
      const by = this.random() < 0.5 ? 'alice' : 'bob';
      if (await this.call(org.tokens[by], 'POST', `/v1/plans/${runId}/approve`, { reason: 'chaos' }))
        this.accepted.push({ kind: 'approved', runId, by });
    } else if (roll < 0.72) {
      if (await this.call(org.tokens.bob, 'POST', `/v1/plans/${runId}/reject`, { resolution: 'changes-requested', reason: 'chaos' }))
        this.accepted.push({ kind: 'rejected', runId, by: 'bob' });
    } else if (roll < 0.85) {
      const replacement = await this.call<PlanSnapshot>(org.tokens.planner, 'POST', `/v1/plans/${runId}/replace`, {
        threadId: 't-1',
        leadAgentId: 'planner',
        reason: 'chaos',
        draft: DRAFTS.fanOut,
      });
      if (replacement) {
        this.accepted.push(
          { kind: 'replaced', runId, by: 'planner', replacement: replacement.runId },
          { kind: 'created', organizationId: org.id, runId: replacement.runId },
        );
        this.pending.push(replacement.runId);
      }
    } else if (roll < 0.93) {
      if (await this.call(org.tokens.alice, 'POST', `/v1/plans/${runId}/nodes/sign/complete`, { output: { signed: true } }))
        this.accepted.push({ kind: 'completed', runId, nodeId: 'sign', by: 'alice' });
    } else if (await this.call(org.tokens.planner, 'POST', `/v1/plans/${runId}/abort`, { reason: 'chaos' })) {
      this.accepted.push({ kind: 'aborted', runId });
    }
  }

  /**
   * Deletes the organization's schedules — those of recurring plans whose creation was answered
   * and those whose answer a kill cut off — so the stack can fall quiet.
   */
  async stopSchedules(org: Organization): Promise<void> {
    const runs = await allRuns(this.apiUrl(), org.tokens.admin);
    const scheduleIds = new Set([...this.scheduleIds, ...runs.flatMap((run) => (run.scheduleId ? [run.scheduleId] : []))]);
    for (const scheduleId of scheduleIds) await this.call(org.tokens.admin, 'DELETE', `/v1/schedules/${encodeURIComponent(scheduleId)}`);
  }
}
