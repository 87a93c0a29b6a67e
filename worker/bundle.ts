import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { existsSync, mkdirSync, readFileSync, readdirSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { DefaultLogger, type WorkflowBundleWithSourceMap, bundleWorkflowCode } from '@temporalio/worker';

const DIST = fileURLToPath(new URL('..', import.meta.url));
/** The workflows a plan worker runs. */
export const WORKFLOWS_PATH = join(DIST, 'workflows', 'index.js');
/** Interceptors every plan workflow runs with: the guard of its clock (workflows/fresh-clock.ts). */
export const WORKFLOW_INTERCEPTOR_MODULES = [join(DIST, 'workflows', 'fresh-clock.js')];

/** The workflow interceptor module of @temporalio/interceptors-opentelemetry (tracing/temporal.ts has the rest of it). */
export const TRACING_WORKFLOW_MODULE = createRequire(import.meta.url).resolve(
  '@temporalio/interceptors-opentelemetry/lib/workflow-interceptors',
);

export interface BundleOptions {
  /**
   * With @temporalio/interceptors-opentelemetry's workflow interceptors, which continue a trace
   * in the run (docs/tracing.md): bundled only when tracing is on, so a stack without it runs
   * the workflows exactly as before.
   */
  tracing?: boolean;
}

/** The workflow interceptor modules of a bundle. */
export function workflowInterceptorModules(options: BundleOptions = {}): string[] {
  return options.tracing ? [...WORKFLOW_INTERCEPTOR_MODULES, TRACING_WORKFLOW_MODULE] : WORKFLOW_INTERCEPTOR_MODULES;
}

/** The plan workflows and their interceptors as one bundle, in memory. */
export function bundlePlanWorkflows(options: BundleOptions = {}): Promise<WorkflowBundleWithSourceMap> {
  return bundleWorkflowCode({
    workflowsPath: WORKFLOWS_PATH,
    workflowInterceptorModules: workflowInterceptorModules(options),
    logger: new DefaultLogger('WARN'),
  });
}
const SDK_PACKAGE = fileURLToPath(new URL('../../node_modules/@temporalio/workflow/package.json', import.meta.url));
const TRACING_PACKAGE = fileURLToPath(new URL('../../node_modules/@temporalio/interceptors-opentelemetry/package.json', import.meta.url));

/** What the bundle is made of: the compiled sources it may import (tests aside) and the workflow SDK's version (and the tracing interceptors'). */
function sourcesHash(options: BundleOptions): string {
  const hash = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => (a.name < b.name ? -1 : 1))) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) {
        if (path !== join(DIST, 'test')) walk(path);
      } else if (entry.name.endsWith('.js')) {
        hash.update(path.slice(DIST.length)).update(readFileSync(path));
      }
    }
  };
  walk(DIST);
  if (existsSync(SDK_PACKAGE)) hash.update(readFileSync(SDK_PACKAGE));
  if (options.tracing && existsSync(TRACING_PACKAGE)) hash.update(readFileSync(TRACING_PACKAGE));
  return hash.digest('hex').slice(0, 16);
}

/**
 * The workflow code as one bundle file, made once per version of the sources and kept in
 * `cacheDir`. It is bundled in a child process: webpack's memory (some 60 MB the process never
 * gave back) stays out of the long-running stack, and later starts skip bundling altogether.
 */
export async function cachedWorkflowBundle(cacheDir: string, options: BundleOptions = {}): Promise<{ codePath: string }> {
  const codePath = join(cacheDir, `workflow-bundle-${sourcesHash(options)}${options.tracing ? '-traced' : ''}.js`);
  if (!existsSync(codePath)) {
    mkdirSync(cacheDir, { recursive: true });
    const partial = `${codePath}.${process.pid}.partial`;
    await promisify(execFile)(process.execPath, [fileURLToPath(import.meta.url), partial, ...(options.tracing ? ['--tracing'] : [])], {
      maxBuffer: 16 * 1024 * 1024,
    });
    // Renamed into place whole, so a start that finds the file finds all of it.
    renameSync(partial, codePath);
  }
  return { codePath };
}

// Run as a script: bundle the workflows into the file named (with the tracing interceptors after --tracing).
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const out = process.argv[2]!;
  const { code } = await bundlePlanWorkflows({ tracing: process.argv[3] === '--tracing' });
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, code);
}
