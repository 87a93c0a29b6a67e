import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { PlanSnapshot } from '../domain/snapshot.js';
import { freePort } from '../temporal/free-port.js';
import { type Verdict, acceptedTookEffect, isolated, numberedOnce, recordsAreCommitted, waitForQuiet } from './checks.js';
import { Load, seededRandom } from './load.js';
import type { Organization } from './promises.js';
import { StackProcess } from './stack-process.js';

/**
 * `npm run chaos [-- --seed S --rounds R --actors A --round-seconds T --long --keep]`
 *
 * Starts `plans start` on a fresh data dir, drives a mixed load through its API from A actors in
 * two organizations (plans pending, running, recurring; approved, rejected, replaced, completed by
 * a person, aborted; decisions racing on the same run), and in every round kills, with -9, in
 * turn the whole stack (then starts it again) or only its Temporal dev server (which the stack
 * must bring back itself), at a moment drawn from the seed. Once everything is quiet it checks, for
 * every run: SurrealDB equals what Temporal committed (I1, by `plans doctor`), events and
 * checkpoints numbered 1..n once, every request answered 2xx took effect, and no organization
 * sees another's runs. Prints one summary line; exits 1 if anything broke. The same seed makes
 * the same choices (timings still vary with the machine).
 */
const { values: args } = parseArgs({
  options: {
    seed: { type: 'string' },
    rounds: { type: 'string', default: '3' },
    actors: { type: 'string', default: '4' },
    'round-seconds': { type: 'string', default: '6' },
    long: { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});
if (args.help) {
  console.log(
    'Usage: npm run chaos -- [--seed S] [--rounds R] [--actors A] [--round-seconds T] [--long] [--keep]\n  --long: 12 rounds of 20 s; --keep: keep the data dir for inspection',
  );
  process.exit(0);
}
const SEED = args.seed !== undefined ? Number(args.seed) : Math.floor(Math.random() * 2 ** 31);
const ROUNDS = args.long ? 12 : Number(args.rounds);
const ACTORS = Number(args.actors);
const ROUND_MS = (args.long ? 20 : Number(args['round-seconds'])) * 1000;
for (const [name, value] of [
  ['seed', SEED],
  ['rounds', ROUNDS],
  ['actors', ACTORS],
  ['round-seconds', ROUND_MS],
] as const) {
  if (!Number.isInteger(value) || value < (name === 'seed' ? 0 : 1)) {
    console.error(`--${name} must be a non-negative integer`);
    process.exit(2);
  }
}

const progress = (line: string) => process.stderr.write(`[chaos] ${line}\n`);

async function organization(stack: StackProcess, id: string): Promise<Organization> {
  return {
    id,
    tokens: {
      planner: await stack.tokenFor(id, 'planner', 'agent', []),
      alice: await stack.tokenFor(id, 'alice', 'person', ['approver']),
      bob: await stack.tokenFor(id, 'bob', 'person', ['approver']),
      admin: await stack.tokenFor(id, 'root', 'person', ['admin']),
    },
  };
}

async function main(): Promise<number> {
  const dataDir = mkdtempSync(join(tmpdir(), 'plans-chaos-'));
  const stack = new StackProcess(dataDir, { api: await freePort(), temporal: await freePort(), ui: await freePort() });
  const random = seededRandom(SEED);
  progress(`seed ${SEED}: ${ROUNDS} rounds of ${ROUND_MS / 1000} s, ${ACTORS} actors; data dir ${dataDir}`);
  await stack.start();
  const orgs = [await organization(stack, 'chaos-a'), await organization(stack, 'chaos-b')];
  const load = new Load(() => stack.apiUrl, random);
  const kills = { app: 0, temporal: 0 };
  const started = Date.now();
  const firstKill = random() < 0.5 ? 0 : 1;

  try {
    for (let round = 1; round <= ROUNDS; round++) {
      const until = Date.now() + ROUND_MS;
      const killAt = Date.now() + ROUND_MS * (0.2 + 0.6 * random());
      // Both kinds of kill in any two rounds; the seed says which comes first.
      const target = (round + firstKill) % 2 === 0 ? 'app' : 'temporal';
      const actors = Array.from({ length: ACTORS }, async (_, actor) => {
        while (Date.now() < until) await load.step(orgs[actor % orgs.length]!);
      });
      await new Promise((resolve) => setTimeout(resolve, killAt - Date.now()));
      if (target === 'app') {
        await stack.killApp();
        kills.app++;
        await Promise.all(actors);
        await stack.start();
      } else {
        stack.killTemporal();
        kills.temporal++;
        await Promise.all(actors);
        await stack.healthy();
      }
      progress(
        `round ${round}/${ROUNDS}: killed ${target === 'app' ? 'the stack' : 'Temporal'}; ${load.tally.accepted} accepted, ${load.tally.refused} refused, ${load.tally.cutOff} cut off so far`,
      );
    }
    for (const org of orgs) await load.stopSchedules(org);

    progress('waiting until every run is quiet …');
    const runsByOrg = new Map<string, PlanSnapshot[]>();
    for (const org of orgs) runsByOrg.set(org.id, await waitForQuiet(stack.apiUrl, org, 180_000));
    const verdicts: Verdict[] = [];
    for (const org of orgs) {
      const committed = await recordsAreCommitted(stack.apiUrl, org);
      const numbered = await numberedOnce(stack.apiUrl, org, runsByOrg.get(org.id)!);
      verdicts.push({ ...committed, name: `${committed.name} (${org.id})` }, { ...numbered, name: `${numbered.name} (${org.id})` });
    }
    verdicts.push(await acceptedTookEffect(stack.apiUrl, orgs, load.accepted), await isolated(stack.apiUrl, orgs, runsByOrg));

    const failed = verdicts.filter((verdict) => verdict.failures.length > 0);
    for (const verdict of failed) for (const failure of verdict.failures.slice(0, 10)) progress(`FAILED ${verdict.name}: ${failure}`);
    const runs = [...runsByOrg.values()].reduce((sum, list) => sum + list.length, 0);
    const summary = verdicts
      .map((verdict) => `${verdict.name} ${verdict.checked - Math.min(verdict.checked, verdict.failures.length)}/${verdict.checked}`)
      .join('; ');
    console.log(
      `chaos seed=${SEED}: ${ROUNDS} rounds in ${Math.round((Date.now() - started) / 1000)} s, ${kills.app} stack kills, ${kills.temporal} Temporal kills, ${load.tally.sent} requests (${load.tally.accepted} accepted, ${load.tally.refused} refused, ${load.tally.cutOff} cut off), ${runs} runs — ${summary} — ${failed.length ? 'FAILED' : 'ok'}`,
    );
    return failed.length ? 1 : 0;
  } finally {
    await stack.stop();
    if (!args.keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`chaos seed=${SEED}: could not finish: ${error instanceof Error ? error.stack : String(error)}`);
    process.exit(1);
  },
);
