import type { DoctorReport } from '../client/doctor.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import type { Accepted, Organization } from './promises.js';

/** One invariant's verdict over every run: how many were checked, and what broke. */
export interface Verdict {
  name: string;
  checked: number;
  failures: string[];
}

async function get<T>(apiUrl: string, token: string, path: string): Promise<{ status: number; body: T }> {
  const response = await fetch(`${apiUrl}${path}`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });
  return { status: response.status, body: (await response.json()) as T };
}

/** Every run of the organization, a page (200) at a time. */
export async function allRuns(apiUrl: string, token: string): Promise<PlanSnapshot[]> {
  const runs: PlanSnapshot[] = [];
  for (let cursor: string | null = ''; cursor !== null;) {
    const response = await fetch(`${apiUrl}/v1/plans?limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, {
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    if (!response.ok) throw new Error(`GET /v1/plans answered ${response.status}: ${await response.text()}`);
    runs.push(...((await response.json()) as PlanSnapshot[]));
    cursor = response.headers.get('x-next-cursor');
  }
  return runs;
}

/** Ends and waits for people: a run in one of these makes no progress by itself. */
const QUIET = new Set(['completed', 'failed', 'aborted', 'pending-approval', 'awaiting-human']);

/** Waits until every run of the organization is quiet and its stored version holds still. */
export async function waitForQuiet(apiUrl: string, org: Organization, timeoutMs: number): Promise<PlanSnapshot[]> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    const runs = await allRuns(apiUrl, org.tokens.admin);
    const shape = runs
      .map((run) => `${run.runId}:${run.status}:${run.version}`)
      .sort()
      .join(',');
    if (runs.every((run) => QUIET.has(run.status)) && shape === last) return runs;
    if (Date.now() > deadline)
      throw new Error(
        `Not quiet within ${timeoutMs} ms: ${runs
          .filter((run) => !QUIET.has(run.status))
          .map((run) => `${run.runId} ${run.status}`)
          .join(', ')}`,
      );
    last = shape;
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

/** I1: SurrealDB holds exactly what Temporal committed, for every run Temporal knows (`plans doctor`, which compares field by field). */
export async function recordsAreCommitted(apiUrl: string, org: Organization): Promise<Verdict> {
  for (let attempt = 0; ; attempt++) {
    const response = await fetch(`${apiUrl}/v1/doctor`, { method: 'POST', headers: { authorization: `Bearer ${org.tokens.admin}` } });
    const report = (await response.json()) as DoctorReport;
    if (report.busy > 0 && attempt < 20) {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      continue;
    }
    return {
      name: 'I1 stored = committed',
      checked: report.checked,
      failures: report.runs.map(
        (run) =>
          `${run.runId} ${run.verdict}: ${run.divergences
            .slice(0, 3)
            .map((divergence) => divergence.path)
            .join(', ')}`,
      ),
    };
  }
}

/** I2/I3: each run's events and checkpoints are numbered 1..n, once each. */
export async function numberedOnce(apiUrl: string, org: Organization, runs: readonly PlanSnapshot[]): Promise<Verdict> {
  const failures: string[] = [];
  for (const { runId } of runs) {
    const { body: run } = await get<PlanSnapshot>(apiUrl, org.tokens.admin, `/v1/plans/${runId}?include=events,checkpoints`);
    for (const [what, sequences] of [
      ['events', run.events!.map((event) => event.sequence)],
      ['checkpoints', run.checkpoints!.map((checkpoint) => checkpoint.sequence)],
    ] as const) {
      if (sequences.some((sequence, index) => sequence !== index + 1)) failures.push(`${runId} ${what} ${sequences.join(',')}`);
    }
  }
  return { name: 'events and checkpoints 1..n once', checked: runs.length, failures };
}

/** Every request answered 2xx took effect, and none of two racing decisions both did. */
export async function acceptedTookEffect(apiUrl: string, orgs: readonly Organization[], accepted: readonly Accepted[]): Promise<Verdict> {
  const failures: string[] = [];
  const runs = new Map<string, PlanSnapshot>();
  const read = async (runId: string) => {
    if (!runs.has(runId)) {
      for (const org of orgs) {
        const answer = await get<PlanSnapshot>(apiUrl, org.tokens.admin, `/v1/plans/${runId}?include=events`);
        if (answer.status === 200) runs.set(runId, answer.body);
      }
    }
    return runs.get(runId);
  };
  const has = (run: PlanSnapshot, eventType: string, by?: string) =>
    run.events!.some((event) => event.eventType === eventType && (by === undefined || event.emittedBy === by));
  for (const promise of accepted) {
    const run = await read(promise.runId);
    if (!run) {
      failures.push(`${promise.kind} ${promise.runId}: the run is not stored`);
      continue;
    }
    const ok =
      promise.kind === 'created'
        ? run.organizationId === promise.organizationId
        : promise.kind === 'approved'
          ? has(run, 'plan-approved', promise.by) || has(run, 'plan-approval-recorded', promise.by)
          : promise.kind === 'rejected'
            ? has(run, 'plan-changes-requested', promise.by)
            : promise.kind === 'completed'
              ? run.nodes.find((node) => node.nodeId === promise.nodeId)?.status === 'completed'
              : promise.kind === 'aborted'
                ? run.status === 'aborted'
                : run.replacedByRunId === promise.replacement && run.status === 'aborted';
    if (!ok) failures.push(`${promise.kind} ${promise.runId} answered 2xx but did not take effect (status ${run.status})`);
    if (run.events && has(run, 'plan-approved') && has(run, 'plan-changes-requested'))
      failures.push(`${promise.runId} was both approved and sent back`);
  }
  return { name: 'accepted requests took effect', checked: accepted.length, failures: [...new Set(failures)] };
}

/** I7: an organization sees none of another's runs, by list or by id. */
export async function isolated(
  apiUrl: string,
  orgs: readonly Organization[],
  runsByOrg: ReadonlyMap<string, readonly PlanSnapshot[]>,
): Promise<Verdict> {
  const failures: string[] = [];
  let checked = 0;
  for (const org of orgs) {
    const listed = await allRuns(apiUrl, org.tokens.alice);
    for (const run of listed) if (run.organizationId !== org.id) failures.push(`${org.id} lists ${run.runId} of ${run.organizationId}`);
    for (const other of orgs.filter((candidate) => candidate !== org)) {
      for (const run of (runsByOrg.get(other.id) ?? []).slice(0, 20)) {
        checked++;
        const answer = await get<unknown>(apiUrl, org.tokens.alice, `/v1/plans/${run.runId}`);
        if (answer.status !== 404) failures.push(`${org.id} reads ${run.runId} of ${other.id}: ${answer.status}`);
      }
    }
  }
  return { name: 'I7 organizations isolated', checked, failures };
}
