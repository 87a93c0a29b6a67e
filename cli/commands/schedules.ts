import type { Command } from 'commander';

import { formatSchedule } from '../format.js';
import { type CommandContext, ORG, optional, write } from './context.js';

/** `plans schedule get|pause|resume|delete`: the schedule of an approved recurring plan. */
export function registerSchedules(program: Command, { apiCommand }: CommandContext): void {
  const schedule = program.command('schedule').description('Inspect, pause, resume or delete the schedule of an approved recurring plan.');
  for (const [action, description] of [
    ['get', 'Show a schedule and its next fire times.'],
    ['pause', 'Stop a schedule from firing until resumed (a person may).'],
    ['resume', 'Let a paused schedule fire again (who paused it, an approver or an admin).'],
    ['delete', 'Delete a schedule for good; runs it started are kept (an approver or an admin).'],
  ] as const) {
    apiCommand<unknown>(schedule, {
      name: action,
      description,
      args: [['<schedule>', 'schedule id (plan-schedule:…)']],
      options: (command) => {
        command.option(...ORG);
        return action === 'pause' || action === 'resume' ? command.option('--note <text>', 'why, shown in the Temporal Web UI') : command;
      },
      request: async (api, options, [id]) => {
        const path = `/v1/schedules/${encodeURIComponent(id!)}`;
        const query = options.org !== undefined ? `?organizationId=${encodeURIComponent(String(options.org))}` : '';
        if (action === 'get') return api.request('GET', `${path}${query}`);
        if (action === 'delete') {
          await api.request('DELETE', `${path}${query}`);
          return { scheduleId: id, state: 'deleted' };
        }
        return api.request('POST', `${path}/${action}`, optional(options, { org: 'organizationId', note: 'note' }));
      },
      show: (_options, value) => write(formatSchedule(value as Parameters<typeof formatSchedule>[0])),
    });
  }
}
