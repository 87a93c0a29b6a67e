import { type Command, InvalidArgumentError } from 'commander';

import type { DoctorReport } from '../../client/doctor.js';
import { formatDoctorReport } from '../format.js';
import { type CommandContext, ORG, optional, write } from './context.js';

/** `plans doctor` found stored records that differ from what Temporal committed (and did not repair them). */
const DIVERGED_EXIT = 8;

function positiveInt(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 1) throw new InvalidArgumentError('must be a positive integer.');
  return parsed;
}

/** `plans doctor`: stored runs against what Temporal committed; `--repair` rewrites what differs. */
export function registerDoctor(program: Command, { apiCommand }: CommandContext): void {
  apiCommand<DoctorReport>(program, {
    name: 'doctor',
    description: `Compare the organization's stored runs with what Temporal committed and list every difference; --repair rewrites those that differ from Temporal's history (an admin's token). Also walks the audit record (plans audit verify --live). Exits ${DIVERGED_EXIT} when differences remain or the audit record does not hold.`,
    options: (command) =>
      command
        .option(...ORG)
        .option('--run <ids...>', 'only these runs')
        .option('--repair', 'rewrite every diverged record from what Temporal committed')
        .option('--limit <n>', 'at most this many runs, newest first (default 10000)', positiveInt),
    request: async (api, options) => {
      const report = await api.request<DoctorReport>('POST', '/v1/doctor', {
        ...(options.repair ? { repair: true } : {}),
        ...optional(options, { org: 'organizationId', run: 'runIds', limit: 'limit' }),
      });
      if (report.diverged > 0 || !report.audit.ok) process.exitCode = DIVERGED_EXIT;
      return report;
    },
    show: (_options, report) => write(formatDoctorReport(report)),
  });
}
