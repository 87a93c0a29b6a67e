import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The source's import graph, type-only imports included, has no cycle: every module can be read
 * (and changed) knowing only what it imports. The layering itself is ESLint's (eslint.config.js).
 */

/** What a module's import and export statements name (type-only ones included, in TypeScript sources). */
function specifiersOf(text: string): string[] {
  return [...text.matchAll(/^(?:import|export)\b[^'"]*?(?:from\s+)?['"]([^'"]+)['"]/gm)].map((match) => match[1]!);
}

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const sources = execFileSync('git', ['ls-files', '*.ts'], { cwd: ROOT, encoding: 'utf8' })
  .split('\n')
  .filter((file) => file && !file.startsWith('test/'));
const known = new Set(sources);

/** What each module imports or re-exports of the others, type-only included. */
const graph = new Map(
  sources.map((file) => {
    const text = readFileSync(join(ROOT, file), 'utf8');
    const specs = specifiersOf(text).filter((spec) => spec.startsWith('.'));
    return [file, specs.map((spec) => normalize(join(dirname(file), spec.replace(/\.js$/, '.ts')))).filter((dep) => known.has(dep))];
  }),
);

/** Every group of modules that import each other in a ring (Tarjan's strongly connected components of more than one). */
function cycles(): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const found: string[][] = [];
  const visit = (module: string): void => {
    index.set(module, next);
    low.set(module, next++);
    stack.push(module);
    onStack.add(module);
    for (const dep of graph.get(module) ?? []) {
      if (!index.has(dep)) {
        visit(dep);
        low.set(module, Math.min(low.get(module)!, low.get(dep)!));
      } else if (onStack.has(dep)) low.set(module, Math.min(low.get(module)!, index.get(dep)!));
    }
    if (low.get(module) !== index.get(module)) return;
    const ring: string[] = [];
    let member: string;
    do {
      member = stack.pop()!;
      onStack.delete(member);
      ring.push(member);
    } while (member !== module);
    if (ring.length > 1) found.push(ring.sort());
  };
  for (const module of graph.keys()) if (!index.has(module)) visit(module);
  return found;
}

it('reads the whole source (a walker that found nothing would pass anything)', () => {
  expect(sources.length).toBeGreaterThan(100);
  expect(graph.get('workflows/run.ts')).toEqual(expect.arrayContaining(['domain/run-state.ts', 'workflows/outbox.ts']));
});

it('has no import cycle, type-only imports included', () => {
  expect(cycles()).toEqual([]);
});

it('the workflow bundle pulls in no zod: the compiled modules the sandbox evaluates (type-only imports gone) never name it', () => {
  const seen = new Set<string>();
  const zod: string[] = [];
  const walk = (file: string) => {
    if (seen.has(file)) return;
    seen.add(file);
    for (const spec of specifiersOf(readFileSync(file, 'utf8'))) {
      if (spec === 'zod' || spec.startsWith('zod/')) zod.push(file);
      else if (spec.startsWith('.')) walk(join(dirname(file), spec));
    }
  };
  walk(fileURLToPath(new URL('../../workflows/index.js', import.meta.url)));
  expect(seen.size).toBeGreaterThan(5);
  expect(zod).toEqual([]);
});
