/**
 * `npm run test:stress-host -- [--burners N] [--repeat K] [--log-dir DIR] -- <command …>`: runs a
 * command (a test suite) K times with N processes burning CPU beside it, as on a busy machine or a
 * shared CI runner, and says how each run ended. Tests must not depend on how fast the machine is:
 * what passes idle must pass here too.
 *
 *   npm run test:stress-host -- -- npm test
 *   npm run test:stress-host -- --repeat 3 -- npm run chaos -- --seed 20261128 --rounds 3
 *   npm run test:stress-host -- --repeat 3 -- npm run test:cluster
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createWriteStream, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { Command, InvalidArgumentError } from 'commander';

const count = (value: string) => {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('a whole number, 0 or more');
  return parsed;
};

const program = new Command('test:stress-host')
  .description('Run a command (a test suite) with processes burning CPU beside it, as on a busy machine.')
  .option('--burners <n>', 'processes that each keep one core busy', count, 2)
  .option('--repeat <k>', 'how many times to run the command', count, 1)
  .option('--log-dir <dir>', "where each run's output goes", 'test-output/stress-host')
  .argument('<command...>', 'the command, after --')
  .showHelpAfterError();
program.parse();
const options = program.opts<{ burners: number; repeat: number; logDir: string }>();
const [command, ...args] = program.args as [string, ...string[]];

/** A process that keeps one core busy until it is killed. */
function burner(): ChildProcess {
  return spawn(process.execPath, ['-e', 'for (;;) {}'], { stdio: 'ignore' });
}

/** Runs the command once, its output into `logFile`; its exit code. */
function runOnce(logFile: string): Promise<number> {
  return new Promise((done) => {
    const log = createWriteStream(logFile);
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', 'pipe'], env: process.env });
    child.stdout.pipe(log, { end: false });
    child.stderr.pipe(log, { end: false });
    child.on('error', (error) => {
      log.end(`\n${error.message}\n`);
      done(127);
    });
    child.on('exit', (code, signal) => log.end(() => done(code ?? (signal ? 128 : 1))));
  });
}

const logDir = resolve(options.logDir);
mkdirSync(logDir, { recursive: true });
const burners = Array.from({ length: options.burners }, burner);
const stopBurners = () => burners.forEach((process) => process.kill('SIGKILL'));
process.on('SIGINT', () => (stopBurners(), process.exit(130)));
process.on('SIGTERM', () => (stopBurners(), process.exit(143)));

const line = `\`${[command, ...args].join(' ')}\` beside ${options.burners} CPU burner${options.burners === 1 ? '' : 's'}`;
process.stdout.write(`stress-host: ${options.repeat} run${options.repeat === 1 ? '' : 's'} of ${line}; output in ${logDir}\n`);
const results: Array<{ code: number; seconds: number; logFile: string }> = [];
try {
  for (let run = 1; run <= options.repeat; run++) {
    const logFile = join(logDir, `run-${run}.log`);
    const began = performance.now();
    const code = await runOnce(logFile);
    const seconds = (performance.now() - began) / 1000;
    results.push({ code, seconds, logFile });
    process.stdout.write(
      `stress-host: run ${run}/${options.repeat} ${code === 0 ? 'passed' : `failed (exit ${code})`} in ${seconds.toFixed(0)} s (${logFile})\n`,
    );
    if (code !== 0) {
      const tail = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-40).join('\n');
      process.stdout.write(`--- the end of run ${run}'s output ---\n${tail}\n---\n`);
    }
  }
} finally {
  stopBurners();
}
const failed = results.filter((result) => result.code !== 0).length;
process.stdout.write(`stress-host: ${results.length - failed} passed, ${failed} failed\n`);
process.exitCode = failed === 0 ? 0 : 1;
