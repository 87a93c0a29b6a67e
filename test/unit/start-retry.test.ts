import { StartError, describeError, retryStart } from '../../app/start-retry.js';

/** A start that fails `failures` times with `error`, then answers 'up'. */
function failing(failures: number, error: () => Error) {
  let calls = 0;
  return {
    attempt: async () => {
      calls++;
      if (calls <= failures) throw error();
      return 'up';
    },
    calls: () => calls,
  };
}

const conflict = () => new Error('Transaction conflict: Resource busy: . This transaction can be retried');
const isPassing = (error: unknown) => /can be retried/.test((error as Error).message);

it('retries a passing error, logging one line per retry that names what and why, then answers', async () => {
  const lines: string[] = [];
  const start = failing(3, conflict);
  const value = await retryStart(start.attempt, {
    what: 'SurrealDB at ws://db:8000',
    isPassing,
    timeoutMs: 10_000,
    initialDelayMs: 1,
    log: (line) => lines.push(line),
  });
  expect(value).toBe('up');
  expect(start.calls()).toBe(4);
  expect(lines).toHaveLength(3);
  expect(lines[0]).toMatch(
    /^SurrealDB at ws:\/\/db:8000: Transaction conflict: Resource busy.*; trying again in \d+\.\d\d s \(attempt 2\)\.$/,
  );
  expect(lines[2]).toMatch(/\(attempt 4\)\.$/);
});

it('fails at once, with the real cause, on an error that is not passing', async () => {
  const lines: string[] = [];
  const start = failing(5, () => new Error('There was a problem with authentication'));
  const failure = retryStart(start.attempt, {
    what: 'SurrealDB at ws://db:8000',
    isPassing,
    timeoutMs: 10_000,
    initialDelayMs: 1,
    log: (line) => lines.push(line),
  });
  await expect(failure).rejects.toBeInstanceOf(StartError);
  await expect(failure).rejects.toThrow(/^SurrealDB at ws:\/\/db:8000: There was a problem with authentication$/);
  expect(start.calls()).toBe(1);
  expect(lines).toEqual([]);
});

it('gives up on a passing error once the next wait would pass the deadline, saying how long it tried', async () => {
  const start = failing(Number.POSITIVE_INFINITY, conflict);
  const waits: number[] = [];
  const failure = retryStart(start.attempt, {
    what: 'Temporal at 127.0.0.1:7233',
    isPassing,
    timeoutMs: 1_000,
    initialDelayMs: 20,
    maxDelayMs: 50,
    log: (line) => waits.push(Number(/in (\d+\.\d\d) s/.exec(line)![1]) * 1000),
  });
  await expect(failure).rejects.toThrow(/^Temporal at 127\.0\.0\.1:7233: gave up after \d+ attempts in \d+\.\d s: Transaction conflict/);
  expect(start.calls()).toBe(waits.length + 1);
  // It never plans a wait past the deadline: the waits it took add up to less than it (each rounded to 10 ms as logged).
  expect(waits.reduce((sum, wait) => sum + wait, 0)).toBeLessThanOrEqual(1_000 + 5 * waits.length);
  expect(start.calls()).toBeGreaterThanOrEqual(2);
});

it('waits longer each time, jittered, up to the cap', async () => {
  const waits: number[] = [];
  const start = failing(8, conflict);
  await retryStart(start.attempt, {
    what: 'x',
    isPassing,
    timeoutMs: 60_000,
    initialDelayMs: 1,
    maxDelayMs: 16,
    log: (line) => waits.push(Number(/in (\d+\.\d\d) s/.exec(line)![1]) * 1000),
  });
  // Doubling from 1 ms up to 16 ms, each ×0.5–1.5: no wait is over 24 ms (+5 for the rounding of the log).
  expect(Math.max(...waits)).toBeLessThanOrEqual(29);
  expect(waits).toHaveLength(8);
});

it('describes an error with the causes that add something', () => {
  const inner = new Error('Transaction conflict');
  const outer = new Error('Cannot open SurrealDB at ws://db: Transaction conflict', { cause: inner });
  expect(describeError(outer)).toBe('Cannot open SurrealDB at ws://db: Transaction conflict');
  expect(describeError(new Error('Failed to connect', { cause: new Error('ECONNREFUSED') }))).toBe('Failed to connect: ECONNREFUSED');
});
