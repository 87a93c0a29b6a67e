import { readFile } from 'node:fs/promises';

import type { Command } from 'commander';

import { PlanError, type PlanErrorCode } from '../../domain/errors.js';
import type { PlanSnapshot } from '../../domain/snapshot.js';
import type { ApiClient } from '../api-client.js';
import { formatPlan, formatPlanLine } from '../format.js';

/*
 * What every command group shares: the options every command sees, the one shape of an API
 * command (handed to each group by the program, `cli/main.ts`, which owns how the API is reached
 * and how refusals exit) and the small helpers the groups' commands are written with.
 */

/** The options every command sees (set before or after the command name). */
export interface GlobalOptions {
  api: string;
  token?: string;
  json?: boolean;
}
export type Options = GlobalOptions & Record<string, unknown>;

export interface ApiCommand<R> {
  name: string;
  description: string;
  /** Positional arguments, e.g. `<run>`. */
  args?: Array<[string, string]>;
  /** Adds the command's own options. */
  options?: (command: Command) => Command;
  /** What it asks of the API. */
  request(api: ApiClient, options: Options, args: string[]): Promise<R>;
  /** How it prints the answer (always JSON with --json). */
  show?(options: Options, value: R): void;
  /** It wrote its answer itself (a stream): nothing more is printed, --json or not. */
  writesOwnOutput?: true;
}

/** What the program hands every command group: how its commands reach the API and answer, and how they exit. */
export interface CommandContext {
  /**
   * Adds a command of the one shape of every API command: it asks the API (the global `--api`
   * and `--token`), prints the answer (JSON with --json), or prints the refusal and exits with
   * the refusal's code.
   */
  apiCommand<R>(parent: Command, spec: ApiCommand<R>): Command;
  /** The exit code of a refusal of this kind, so scripts can tell refusals apart. */
  exitCode(code: PlanErrorCode): number;
}

export const ORG = ['--org <id>', "organization (default: the token's; another is refused)"] as const;

export function write(text: string): void {
  process.stdout.write(`${text}\n`);
}

/** A list a line per item, or what to say when it is empty. */
export function writeList<T>(items: readonly T[], empty: string, line: (item: T) => string): void {
  write(items.length === 0 ? empty : items.map(line).join('\n'));
}

export const showPlans = (options: Options, value: PlanSnapshot | PlanSnapshot[]) => {
  if (options.json) write(JSON.stringify(value, null, 2));
  else if (Array.isArray(value)) writeList(value, 'No plans.', formatPlanLine);
  else write(formatPlan(value));
};

/** Request fields for the flags that were given: `{flag: field}`. */
export function optional(options: Options, mapping: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(mapping)) if (options[flag] !== undefined) out[field] = options[flag];
  return out;
}

export function parseJson(text: string, what: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new PlanError('invalid-input', `${what} is not valid JSON: ${(error as Error).message}`);
  }
}

export async function readJsonFile(file: string, what: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new PlanError('invalid-input', `Cannot read ${what.toLowerCase()} ${file}: ${(error as Error).message}`);
  }
  return parseJson(text, `${what} ${file}`);
}
