import type { Command } from 'commander';

import type { PlanDiffView } from '../../client/reviews-client.js';
import { DEFAULT_PAGE, MAX_PAGE } from '../../domain/requests.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import { RUN_STATUSES } from '../../domain/status.js';
import type { StepRecords } from '../../domain/step-records.js';
import { formatDiff, formatStepRecords } from '../format.js';
import type { DraftView } from '../../client/reviews-client.js';
import { type CommandContext, ORG, showPlans, write } from './context.js';

/**
 * `plans get|diff|list`: plan runs as stored. (Apart from `plans.ts`, which changes them: help
 * lists commands in the order they are added, and `schedule` sits between the two.)
 */
export function registerPlanReads(program: Command, { apiCommand }: CommandContext): void {
  apiCommand<PlanSnapshot | DraftView | StepRecords>(program, {
    name: 'get',
    description:
      'Show a plan run as stored (with --draft, its plan as the draft that compiles to it; with --step, one step as proposed, approved and effective).',
    args: [['<run>', 'run id']],
    options: (command) =>
      command
        .option('--events', 'include its events')
        .option('--checkpoints', 'include its checkpoints')
        .option('--draft', 'print its plan as a draft (JSON), the whole of it, to edit')
        .option('--step <step>', 'one step: as its requester proposed it, as approved (and by whom), as each attempt was called'),
    request: (api, options, [run]) => {
      if (options.draft) return api.request('GET', `/v1/plans/${encodeURIComponent(run!)}/draft`);
      if (options.step !== undefined)
        return api.request('GET', `/v1/plans/${encodeURIComponent(run!)}/steps/${encodeURIComponent(String(options.step))}`);
      const include = [options.events ? 'events' : '', options.checkpoints ? 'checkpoints' : ''].filter(Boolean).join(',');
      return api.request('GET', `/v1/plans/${encodeURIComponent(run!)}${include ? `?include=${include}` : ''}`);
    },
    show: (options, value) => {
      if ('draft' in value) write(JSON.stringify(value.draft, null, 2));
      else if ('effective' in value) write(formatStepRecords(value));
      else showPlans(options, value);
    },
  });

  apiCommand<PlanDiffView>(program, {
    name: 'diff',
    description:
      "Show what changed in a run's plan: between two of its revisions (an edit before approval; by default the last edit), or against the run it replaced. Steps added, removed and changed, the schedule.",
    args: [['<run>', 'run id']],
    options: (command) =>
      command.option(
        '--revision <A..B>',
        'compare these two revisions, each a number (1 is the draft as created) or a revision as `plans get` shows it',
      ),
    request: (api, options, [run]) =>
      api.request(
        'GET',
        `/v1/plans/${encodeURIComponent(run!)}/diff${options.revision !== undefined ? `?revisions=${encodeURIComponent(String(options.revision))}` : ''}`,
      ),
    show: (_options, value) => write(formatDiff(value)),
  });

  apiCommand<PlanSnapshot[]>(program, {
    name: 'list',
    description: 'List plan runs of an organization, newest first.',
    options: (command) =>
      command
        .option(...ORG)
        .option('--thread <id>', 'only runs of this thread')
        .option('--source-thread <id>', 'only runs drafted on behalf of this thread')
        .option('--created-by <id>', 'only runs drafted by this agent')
        .option('--status <statuses>', `only these statuses, comma-separated (${RUN_STATUSES.join(', ')})`)
        .option('--limit <n>', `at most this many (default ${DEFAULT_PAGE}, at most ${MAX_PAGE})`)
        .option('--cursor <cursor>', 'continue after the previous page (printed after it)'),
    request: async (api, options) => {
      const query = new URLSearchParams();
      for (const [flag, name] of Object.entries({
        org: 'organizationId',
        thread: 'threadId',
        sourceThread: 'sourceThreadId',
        createdBy: 'createdByAgentId',
        status: 'status',
        limit: 'limit',
        cursor: 'cursor',
      })) {
        if (options[flag] !== undefined) query.set(name, String(options[flag]));
      }
      const plans = await api.request<PlanSnapshot[]>('GET', `/v1/plans?${query}`);
      // More follow: say how to read them (on stderr, so --json output stays one array).
      if (api.nextCursor) process.stderr.write(`More runs follow: add --cursor ${api.nextCursor}\n`);
      return plans;
    },
    show: showPlans,
  });
}
