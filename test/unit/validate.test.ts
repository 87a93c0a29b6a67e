import { PlanError, formatIssues } from '../../domain/errors.js';
import { MAX_DEPTH, tooDeepAt } from '../../domain/limits.js';
import { nextFireTimes, parseInterval, scheduleInWords, scheduleProblems } from '../../domain/schedule.js';
import { compileDraft, validateDraft } from '../../domain/validate.js';
import { diamondDraft, linearDraft } from '../support/drafts.js';

function codes(input: unknown): string[] {
  const result = validateDraft(input);
  return result.ok ? [] : result.issues.map((issue) => issue.code);
}

describe('validateDraft', () => {
  it('compiles a draft without dependsOn into a linear chain in the given order', () => {
    const plan = compileDraft(linearDraft(3));
    expect(plan.nodes.map((node) => [node.nodeId, node.dependsOn])).toEqual([
      ['step-1', []],
      ['step-2', ['step-1']],
      ['step-3', ['step-2']],
    ]);
  });

  it('keeps declared edges when any node declares dependsOn', () => {
    const plan = compileDraft(diamondDraft());
    expect(plan.nodes.find((node) => node.nodeId === 'join')!.dependsOn).toEqual(['left', 'right']);
    expect(plan.nodes.find((node) => node.nodeId === 'left')!.dependsOn).toEqual(['start']);
  });

  it('refuses an empty plan', () => {
    expect(codes(linearDraft(0))).toEqual(['empty-plan']);
  });

  it('refuses duplicate node ids and malformed ones', () => {
    const draft = linearDraft(2);
    draft.nodes[1]!.id = 'step-1';
    expect(codes(draft)).toContain('duplicate-node-id');
    draft.nodes[1]!.id = 'has space';
    expect(codes(draft)).toContain('invalid-node-id');
  });

  it('refuses unknown and self dependencies, and cycles, naming the nodes', () => {
    const draft = diamondDraft();
    draft.nodes[1]!.dependsOn = ['nowhere'];
    draft.nodes[3]!.dependsOn = ['join'];
    const result = validateDraft(draft);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => issue.code).sort()).toEqual(['self-dependency', 'unknown-dependency']);
    expect(formatIssues(result.issues)).toContain('unknown node "nowhere"');
  });

  it('finds a cycle across several nodes', () => {
    const draft = diamondDraft();
    draft.nodes[0]!.dependsOn = ['join'];
    const result = validateDraft(draft);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues).toEqual([{ code: 'cycle', message: 'The dependencies form a cycle through: start, left, right, join.' }]);
  });

  it('refuses bad executors with the node named', () => {
    const draft = linearDraft(4);
    draft.nodes[0]!.executor = { type: 'robot' } as never;
    draft.nodes[1]!.executor = { type: 'agent' } as never;
    draft.nodes[2]!.executor = { type: 'system', action: 'launch-missiles' } as never;
    draft.nodes[3]!.executor = { type: 'human', assignee: 'bob', extra: 1 } as never;
    const result = validateDraft(draft);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.issues.map((issue) => [issue.code, issue.nodeId])).toEqual([
      ['invalid-executor', 'step-1'],
      ['invalid-executor', 'step-2'],
      ['invalid-executor', 'step-3'],
      ['invalid-executor', 'step-4'],
    ]);
  });

  it('refuses invalid schedules', () => {
    expect(codes(linearDraft(1, { schedule: { cron: '61 * * * *' } }))).toEqual(['invalid-schedule']);
    expect(codes(linearDraft(1, { schedule: { cron: '* * * *' } }))).toEqual(['invalid-schedule']);
    expect(codes(linearDraft(1, { schedule: { every: 'soon' } }))).toEqual(['invalid-schedule']);
    expect(codes(linearDraft(1, { schedule: { every: '15m', cron: '0 9 * * 1' } }))).toEqual(['invalid-schedule']);
    expect(codes(linearDraft(1, { schedule: { every: '15m', timezone: 'Mars/Olympus' } }))).toEqual(['invalid-schedule']);
    expect(codes(linearDraft(1, { schedule: { every: '15m', timezone: 'Europe/Paris' } }))).toEqual([]);
    expect(codes(linearDraft(1, { schedule: { cron: '0 9 * * 1-5' } }))).toEqual([]);
  });

  it('refuses malformed drafts with the path of each problem', () => {
    const result = validateDraft({ title: '', objective: 'x', nodes: [{ id: 'a', executor: { type: 'human' }, dependOn: [] }] });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const text = formatIssues(result.issues);
    expect(text).toContain('invalid-draft: title: title must not be empty');
    expect(text).toContain('nodes.0.title');
    expect(text).toMatch(/dependOn/);
    expect(codes('not a draft')).toEqual(['invalid-draft']);
  });

  it('reports every blocking issue at once, joined by " | " (S11)', () => {
    const draft = linearDraft(2, { schedule: { every: 'never' } });
    draft.nodes[1]!.id = 'step-1';
    draft.nodes[0]!.executor = { type: 'robot' } as never;
    let caught: unknown;
    try {
      compileDraft(draft);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(PlanError);
    const error = caught as PlanError;
    expect(error.code).toBe('invalid-input');
    expect(error.issues!.map((issue) => issue.code).sort()).toEqual(['duplicate-node-id', 'invalid-executor', 'invalid-schedule']);
    expect(error.message.split(' | ')).toHaveLength(3);
    expect(error.message).toMatch(/^[a-z-]+: /);
  });

  it('warns, without refusing, about agent nodes without instructions', () => {
    const plan = compileDraft({
      title: 't',
      objective: 'o',
      nodes: [{ id: 'a', title: 'A', executor: { type: 'agent', agentId: 'x' } }],
    });
    expect(plan.warnings.map((warning) => warning.code)).toEqual(['missing-instructions']);
  });
});

describe('schedules', () => {
  it('parses intervals', () => {
    expect(parseInterval('15m')).toBe(900_000);
    expect(parseInterval('1h30m')).toBe(5_400_000);
    expect(parseInterval('2s')).toBe(2000);
    expect(parseInterval('15 minutes')).toBeUndefined();
  });

  it('reads in words and computes next fire times as Temporal does', () => {
    expect(scheduleInWords({ cron: '0 9 * * 1', timezone: 'Europe/Paris' })).toBe('At 09:00 AM, only on Monday (Europe/Paris)');
    expect(scheduleInWords({ every: '15m' })).toBe('Every 15m');
    const from = new Date('2026-11-26T10:07:00.000Z');
    expect(nextFireTimes({ every: '15m' }, from, 2)).toEqual(['2026-11-26T10:15:00.000Z', '2026-11-26T10:30:00.000Z']);
    expect(nextFireTimes({ cron: '0 9 * * 1', timezone: 'Europe/Paris' }, from, 2)).toEqual([
      '2026-11-30T08:00:00.000Z',
      '2026-12-07T08:00:00.000Z',
    ]);
  });

  it('needs exactly one of cron or every', () => {
    expect(scheduleProblems({})).toEqual(['a schedule needs exactly one of "cron" or "every"']);
    expect(scheduleProblems({ every: '500ms' })).toEqual(['every "500ms" is shorter than 1s']);
  });
});

describe('nesting depth', () => {
  const nested = (depth: number): unknown => Array.from({ length: depth }).reduce<unknown>((inner) => ({ a: inner }), 1);

  it(`allows ${MAX_DEPTH} levels and names the path of the first deeper one`, () => {
    expect(tooDeepAt(nested(MAX_DEPTH))).toBeUndefined();
    expect(tooDeepAt(nested(MAX_DEPTH + 1), MAX_DEPTH, 'body')).toBe(`body${'.a'.repeat(MAX_DEPTH)}`);
    expect(tooDeepAt({ list: [[[1]]] }, 3)).toBe('list.0.0');
    expect(tooDeepAt('text')).toBeUndefined();
  });

  it('examines values nested far past the call stack', () => {
    let deep: unknown = 1;
    for (let level = 0; level < 200_000; level++) deep = [deep];
    expect(tooDeepAt(deep)).toBe(Array.from({ length: MAX_DEPTH }, () => '0').join('.'));
  });

  it('refuses a draft nested too deep, naming the field', () => {
    const draft = linearDraft(1);
    (draft.nodes[0] as Record<string, unknown>).executor = {
      type: 'system',
      action: 'webhook',
      url: 'http://x.example/hook',
      body: nested(100),
    };
    const result = validateDraft(draft);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.issues[0]!.message).toMatch(/^nodes\.0\.executor\.body(\.a)+: nests deeper than 64 levels$/);
  });
});
