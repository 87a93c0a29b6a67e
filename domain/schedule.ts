import { CronExpressionParser } from 'cron-parser';
import cronstrue from 'cronstrue';

import { parseInterval } from './duration.js';

export { parseInterval };

/** What a schedule does when a fire comes while the previous run is still going (Temporal's overlap policies). */
export const OVERLAP_POLICIES = ['skip', 'buffer-one', 'buffer-all', 'cancel-other', 'terminate-other', 'allow-all'] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

/** A schedule, once validated: exactly one of `cron` (5 fields) or `every` (e.g. "15m"). */
export type PlanSchedule = ({ cron: string } | { every: string }) & { timezone?: string; overlap?: OverlapPolicy };

/** Shortest interval a schedule may fire at: anything faster is a mistake, not a plan. */
export const MIN_INTERVAL_MS = 1000;

function isValidTimezone(timezone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: timezone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Checks a draft schedule and returns the problems found (empty when valid): exactly one of a
 * 5-field `cron` or an `every` interval of at least a second, and an IANA timezone if given.
 */
export function scheduleProblems(schedule: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const known = new Set(['cron', 'every', 'timezone', 'overlap']);
  const unknown = Object.keys(schedule).filter((key) => !known.has(key));
  if (unknown.length > 0) problems.push(`unknown schedule field(s): ${unknown.join(', ')}`);
  const { cron, every, timezone, overlap } = schedule as { cron?: string; every?: string; timezone?: string; overlap?: string };
  if (overlap !== undefined && !(OVERLAP_POLICIES as readonly string[]).includes(overlap)) {
    problems.push(`overlap "${overlap}" is not one of ${OVERLAP_POLICIES.join(', ')}`);
  }
  if ((cron === undefined) === (every === undefined)) {
    problems.push('a schedule needs exactly one of "cron" or "every"');
  }
  if (cron !== undefined) {
    const fields = cron.trim().split(/\s+/);
    if (fields.length !== 5) {
      problems.push(`cron "${cron}" must have 5 fields (minute hour day-of-month month day-of-week)`);
    } else {
      try {
        CronExpressionParser.parse(cron);
      } catch (error) {
        problems.push(`cron "${cron}" is not valid: ${(error as Error).message}`);
      }
    }
  }
  if (every !== undefined) {
    const ms = parseInterval(every);
    if (ms === undefined) problems.push(`every "${every}" is not an interval such as "15m", "1h30m" or "10s"`);
    else if (ms < MIN_INTERVAL_MS) problems.push(`every "${every}" is shorter than 1s`);
  }
  if (timezone !== undefined && !isValidTimezone(timezone)) problems.push(`timezone "${timezone}" is not an IANA time zone`);
  return problems;
}

/** A schedule in plain words, for people: "At 09:00 AM, only on Monday (Europe/Paris)". */
export function scheduleInWords(schedule: PlanSchedule): string {
  const zone = schedule.timezone ? ` (${schedule.timezone})` : ' (UTC)';
  if ('cron' in schedule) return `${cronstrue.toString(schedule.cron, { verbose: false })}${zone}`;
  return `Every ${schedule.every}`;
}

/**
 * The next `count` fire times of a schedule after `from`, as Temporal computes them: cron in
 * the schedule's time zone, intervals aligned to the Unix epoch.
 */
export function nextFireTimes(schedule: PlanSchedule, from: Date, count: number): string[] {
  if ('cron' in schedule) {
    const expression = CronExpressionParser.parse(schedule.cron, {
      currentDate: from,
      ...(schedule.timezone ? { tz: schedule.timezone } : {}),
    });
    return expression.take(count).map((date) => date.toDate().toISOString());
  }
  const every = parseInterval(schedule.every)!;
  const first = Math.floor(from.getTime() / every) * every + every;
  return Array.from({ length: count }, (_, index) => new Date(first + index * every).toISOString());
}

/** Describes a validated schedule in words, for events and UIs. */
export function describeSchedule(schedule: PlanSchedule): string {
  const zone = schedule.timezone ? ` (${schedule.timezone})` : '';
  return 'cron' in schedule ? `cron "${schedule.cron}"${zone}` : `every ${schedule.every}${zone}`;
}
