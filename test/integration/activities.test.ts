import { randomUUID } from 'node:crypto';

import { MockActivityEnvironment } from '@temporalio/testing';
import { Client, Connection } from '@temporalio/client';
import { RecordId, type Surreal } from 'surrealdb';

import { type AttachedSchedule, type PlanActivities, createActivities } from '../../activities/index.js';
import { echoAgent } from '../../agents/echo.js';
import { LinkSigner } from '../../auth/links.js';
import type { RunHeader, RunState, Transition } from '../../domain/run-state.js';
import { abortRun, approveRun, createRun } from '../../domain/transitions.js';
import { UNSTORABLE_AFTER_ATTEMPTS } from '../../activities/store-committed.js';
import { compileDraft } from '../../domain/validate.js';
import { applySchema, openDatabase, runQuery } from '../../storage/database.js';
import { PlanStore } from '../../storage/plan-store.js';
import { diamondDraft } from '../support/drafts.js';
import { temporalAddress } from '../support/stack.js';

let db: Surreal;
let store: PlanStore;
let connection: Connection;
let activities: PlanActivities;
const env = new MockActivityEnvironment();

beforeAll(async () => {
  db = await openDatabase({ url: 'mem://' });
  store = new PlanStore(db);
  connection = await Connection.connect({ address: temporalAddress() });
  activities = createActivities({
    store,
    client: new Client({ connection }),
    taskQueue: `test-${randomUUID()}`,
    agents: { echo: echoAgent },
    links: new LinkSigner('x'.repeat(32), () => 'http://127.0.0.1'),
  });
});
afterAll(async () => {
  await connection?.close();
  await db?.close();
});

const plan = compileDraft({ ...diamondDraft(), schedule: { every: '45m' } });

function header(): RunHeader {
  const runId = randomUUID();
  return {
    runId,
    workflowId: `plan-run:${runId}`,
    planSpecId: runId,
    organizationId: 'org-activities',
    threadId: 't-1',
    sourceThreadId: 't-2',
    leadAgentId: 'lead',
    requireApproval: true,
    title: plan.title,
    objective: plan.objective,
    createdAt: '2026-11-26T10:00:00.000Z',
  };
}

/** Stores `transitions` of `run` as its workflow would (with the run's creation when `creating`). */
function persist(run: RunHeader, transitions: Transition[], creating = false) {
  const scope = { runId: run.runId, organizationId: run.organizationId, threadId: run.threadId };
  return env.run(activities.persistTransitions, { ...scope, transitions, ...(creating ? { creation: { header: run, plan } } : {}) });
}

/** `run`, just created, approved by `a` a minute later. */
function approvedBy(run: RunHeader, created: { state: RunState }) {
  return approveRun(
    created.state,
    plan,
    { organizationId: run.organizationId, threadId: run.threadId, emittedBy: 'a' },
    '2026-11-26T10:01:00.000Z',
  );
}

async function counts(runId: string, planSpecId: string) {
  const [runs, nodeRuns, events, checkpoints, specs, nodeSpecs] = await runQuery<Array<[number] | number[]>>(
    db,
    `SELECT VALUE count() FROM plan_run WHERE runId = $runId GROUP ALL;
     SELECT VALUE count() FROM plan_node_run WHERE runId = $runId GROUP ALL;
     SELECT VALUE count() FROM plan_event WHERE runId = $runId GROUP ALL;
     SELECT VALUE count() FROM plan_checkpoint WHERE runId = $runId GROUP ALL;
     SELECT VALUE count() FROM plan_spec WHERE planSpecId = $planSpecId GROUP ALL;
     SELECT VALUE count() FROM plan_node_spec WHERE planSpecId = $planSpecId GROUP ALL;`,
    { runId, planSpecId },
  );
  const first = (rows: number[] | undefined) => rows?.[0] ?? 0;
  return {
    runs: first(runs),
    nodeRuns: first(nodeRuns),
    events: first(events),
    checkpoints: first(checkpoints),
    specs: first(specs),
    nodeSpecs: first(nodeSpecs),
  };
}

describe('persistTransitions', () => {
  it('run twice, stores one set of records', async () => {
    const run = header();
    const created = createRun(run, plan, run.createdAt);
    const input = {
      runId: run.runId,
      organizationId: run.organizationId,
      threadId: run.threadId,
      transitions: [created.transition],
      creation: { header: run, plan },
    };
    await env.run(activities.persistTransitions, input);
    const once = await counts(run.runId, run.planSpecId);
    await env.run(activities.persistTransitions, input);
    expect(await counts(run.runId, run.planSpecId)).toEqual(once);
    expect(once).toEqual({ runs: 1, nodeRuns: 4, events: 3, checkpoints: 1, specs: 1, nodeSpecs: 4 });

    const approved = approvedBy(run, created);
    await persist(run, [approved.transition]);
    await persist(run, [approved.transition]);
    expect(await counts(run.runId, run.planSpecId)).toEqual({ ...once, events: 5, checkpoints: 2 });
    const snapshot = await store.runs.getSnapshot(run.runId, { includeCheckpoints: true, includeEvents: true });
    expect(snapshot!.checkpoints!.map((checkpoint) => checkpoint.sequence)).toEqual([1, 2]);
    expect(snapshot!.events!.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5]);
  });

  it('a late attempt of an earlier transition never rolls the run back', async () => {
    const run = header();
    const created = createRun(run, plan, run.createdAt);
    const approved = approvedBy(run, created);
    await persist(run, [created.transition], true);
    await persist(run, [approved.transition]);
    // A zombie attempt of the creation lands after the approval.
    await persist(run, [created.transition], true);
    const snapshot = await store.runs.getSnapshot(run.runId);
    expect(snapshot).toMatchObject({ status: 'running', readyNodeIds: ['start'] });
    expect(snapshot!.nodes.find((node) => node.nodeId === 'start')!.status).toBe('ready');
  });
});

describe('a write SurrealDB can never accept', () => {
  it("is retried while it may pass, then stored with its payloads withheld, so the run's records go on", async () => {
    const run = header();
    const created = createRun(run, plan, run.createdAt);
    const scope = { runId: run.runId, organizationId: run.organizationId, threadId: run.threadId };
    await persist(run, [created.transition], true);
    const approved = approvedBy(run, created);
    // Nested past what SurrealDB holds (input is bounded where it enters; this gets past it on purpose).
    let deep: unknown = 1;
    for (let level = 0; level < 300; level++) deep = { a: deep };
    const artifact = {
      artifactId: `${run.runId}:start:1`,
      nodeId: 'start',
      attempt: 1,
      content: deep,
      createdBy: 'a',
      createdAt: '2026-11-26T10:01:00.000Z',
    };
    const unstorable = { ...scope, transitions: [{ ...approved.transition, artifacts: [artifact] }] };
    await expect(new MockActivityEnvironment({ attempt: 1 }).run(activities.persistTransitions, unstorable)).rejects.toThrow(
      'RecursionLimitExceeded',
    );
    await expect(
      new MockActivityEnvironment({ attempt: UNSTORABLE_AFTER_ATTEMPTS - 1 }).run(activities.persistTransitions, unstorable),
    ).rejects.toThrow('RecursionLimitExceeded');
    await new MockActivityEnvironment({ attempt: UNSTORABLE_AFTER_ATTEMPTS }).run(activities.persistTransitions, unstorable);
    const aborted = abortRun(approved.state, { reason: 'Stop.', emittedBy: 'a' }, '2026-11-26T10:02:00.000Z');
    await persist(run, [aborted.transition]);
    const stored = await store.runs.getSnapshot(run.runId, { includeEvents: true, includeArtifacts: true });
    expect(stored).toMatchObject({ status: 'aborted', version: 3 });
    expect(stored!.events!.map((event) => event.sequence)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const withheld = { withheld: 'Could not be stored: RecursionLimitExceeded' };
    expect(stored!.events!.filter((event) => event.eventType === 'plan-approved').map((event) => event.detail)).toEqual([withheld]);
    expect(stored!.artifacts).toEqual([expect.objectContaining({ artifactId: artifact.artifactId, content: withheld })]);
  });
});

describe('lists read through keys', () => {
  it('key the runs stored before keys existed, once, at start-up; status keys move with the run', async () => {
    const run = { ...header(), organizationId: `org-${randomUUID()}` };
    const created = createRun(run, plan, run.createdAt);
    await persist(run, [created.transition], true);
    const pending = { organizationId: run.organizationId, statuses: ['pending-approval' as const] };
    expect((await store.runs.listSnapshots(pending)).map((listed) => listed.runId)).toEqual([run.runId]);
    // As stored by a version before keys: no keys, no order, no marker.
    await runQuery(db, 'DELETE plan_run_key WHERE run = $run; UPDATE $run SET listOrder = NONE; DELETE plan_meta;', {
      run: new RecordId('plan_run', run.runId),
    });
    expect(await store.runs.listSnapshots(pending)).toEqual([]);
    await applySchema(db);
    expect((await store.runs.listSnapshots(pending)).map((listed) => listed.runId)).toEqual([run.runId]);
    expect(
      (await store.runs.listSnapshots({ organizationId: run.organizationId, threadId: run.threadId })).map((listed) => listed.runId),
    ).toEqual([run.runId]);
    // Approved: it leaves the pending list and joins the running one.
    const approved = approvedBy(run, created);
    await persist(run, [approved.transition]);
    expect(await store.runs.listSnapshots(pending)).toEqual([]);
    expect(
      (await store.runs.listSnapshots({ organizationId: run.organizationId, statuses: ['running'] })).map((listed) => listed.status),
    ).toEqual(['running']);
  });
});

describe('reads while runs change', () => {
  it('show each run as it was at one instant: its status, nodes and events from the same version', async () => {
    const organizationId = `org-${randomUUID()}`;
    const runs = Array.from({ length: 60 }, () => ({ ...header(), organizationId }));
    const steps = runs.map((run) => {
      const created = createRun(run, plan, run.createdAt);
      const approved = approveRun(
        created.state,
        plan,
        { organizationId, threadId: run.threadId, emittedBy: 'a' },
        '2026-11-26T10:01:00.000Z',
      );
      return { run, created, approved, scope: { runId: run.runId, organizationId, threadId: run.threadId } };
    });
    for (const { run, created, scope } of steps)
      await store.runs.persistTransitions({ ...scope, transitions: [created.transition], creation: { header: run, plan } });

    // Approvals land one after another while lists and single runs are read.
    let approving = true;
    const approvals = (async () => {
      try {
        for (const { approved, scope } of steps) await store.runs.persistTransitions({ ...scope, transitions: [approved.transition] });
      } finally {
        approving = false;
      }
    })();
    const seen: Array<{ version: number; status: string; start: string; events: number }> = [];
    const deadline = Date.now() + 30_000;
    while (approving) {
      if (Date.now() > deadline) {
        void approvals.catch(() => undefined); // given up on: how the approvals end no longer matters
        throw new Error(`the ${steps.length} approvals to be stored: not within 30 s`);
      }
      const listed = await store.runs.listSnapshots({ organizationId, limit: 200 }, { includeEvents: true });
      const one = await store.runs.getSnapshot(steps[Math.floor(Math.random() * steps.length)]!.run.runId, { includeEvents: true });
      for (const snapshot of [...listed, one!]) {
        seen.push({
          version: snapshot.version,
          status: snapshot.status,
          start: snapshot.nodes.find((node) => node.nodeId === 'start')!.status,
          events: snapshot.events!.length,
        });
      }
    }
    await approvals;
    // Version 1 is the created run (pending, three events); version 2 the approved one (start ready, five).
    const asOf = { 1: { status: 'pending-approval', start: 'pending', events: 3 }, 2: { status: 'running', start: 'ready', events: 5 } };
    expect(seen.filter(({ version, ...read }) => JSON.stringify(read) !== JSON.stringify(asOf[version as 1 | 2]))).toEqual([]);
    expect(new Set(seen.map((read) => read.version))).toEqual(new Set([1, 2]));
  });
});

describe('runQuery', () => {
  it("answers each statement's result, and reports why a transaction failed rather than the statements it rolled back", async () => {
    const id = randomUUID();
    const failed = runQuery(db, 'BEGIN; CREATE type::record("probe", $id); CREATE type::record("probe", $id); COMMIT;', { id });
    await expect(failed).rejects.toThrow(/^Database record `probe:.+` already exists$/);
    expect(await runQuery(db, 'RETURN 1; RETURN [$id]; SELECT VALUE x FROM [{ x: 2 }, { x: 3 }];', { id })).toEqual([1, [id], [2, 3]]);
  });
});

describe('attachSchedule', () => {
  it('run twice, makes one Temporal Schedule and one plan_schedule record', async () => {
    const run = header();
    const first = (await env.run(activities.attachSchedule, { run, plan, schedule: plan.schedule! })) as AttachedSchedule;
    const second = (await env.run(activities.attachSchedule, { run, plan, schedule: plan.schedule! })) as AttachedSchedule;
    expect(second.scheduleId).toBe(first.scheduleId);
    expect(first.scheduleId).toBe(`plan-schedule:${run.planSpecId}`);
    const description = await new Client({ connection }).schedule.getHandle(first.scheduleId).describe();
    expect(description.spec.intervals?.[0]?.every).toBe(45 * 60 * 1000);
    expect(description.policies.overlap).toBe('SKIP');
    const [rows] = await runQuery<[unknown[]]>(db, 'SELECT * FROM plan_schedule WHERE planSpecId = $planSpecId;', {
      planSpecId: run.planSpecId,
    });
    expect(rows).toHaveLength(1);
    expect((await store.schedules.get(first.scheduleId))!.nextFireAt).toBe(second.scheduledAt);
    await new Client({ connection }).schedule.getHandle(first.scheduleId).delete();
  });
});

describe('executeNode', () => {
  it('run twice for the same attempt, stores one artifact', async () => {
    const runId = randomUUID();
    const input = {
      runId,
      organizationId: 'org-activities',
      threadId: 't-1',
      nodeId: 'write',
      title: 'Write',
      instructions: 'Write it.',
      executor: { type: 'agent' as const, agentId: 'echo' },
      attempt: 1,
      upstreamArtifactIds: [],
    };
    const first = (await env.run(activities.executeNode, input)) as { artifactIds: string[] };
    const second = (await env.run(activities.executeNode, input)) as { artifactIds: string[] };
    expect(second).toEqual(first);
    const [rows] = await runQuery<[unknown[]]>(db, 'SELECT * FROM plan_artifact WHERE runId = $runId;', { runId });
    expect(rows).toHaveLength(1);
    expect(await store.runs.getArtifacts(first.artifactIds)).toEqual([
      expect.objectContaining({ nodeId: 'write', content: { text: 'Write.\nWrite it.' } }),
    ]);
  });

  it('refuses an agent this worker does not run, without retrying', async () => {
    await expect(
      env.run(activities.executeNode, {
        runId: 'r',
        organizationId: 'o',
        threadId: 't',
        nodeId: 'n',
        title: 'N',
        executor: { type: 'agent' as const, agentId: 'ghost' },
        attempt: 1,
        upstreamArtifactIds: [],
      }),
    ).rejects.toMatchObject({ message: 'No worker runs agent "ghost".', nonRetryable: true });
  });
});
