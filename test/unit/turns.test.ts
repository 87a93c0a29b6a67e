import { Turns } from '../../storage/turns.js';

const tick = () => new Promise((resolve) => setTimeout(resolve, 5));

it('runs the tasks of one key one at a time in arrival order, other keys alongside, past failures', async () => {
  const turns = new Turns();
  const log: string[] = [];
  let running = 0;
  let most = 0;
  const task = (key: string, name: string, fail = false) =>
    turns.run(key, async () => {
      running++;
      most = Math.max(most, running);
      log.push(`${name} start`);
      await tick();
      log.push(`${name} end`);
      running--;
      if (fail) throw new Error(`${name} failed`);
      return name;
    });
  const results = await Promise.allSettled([task('a', 'a1'), task('a', 'a2', true), task('b', 'b1'), task('a', 'a3')]);
  expect(results.map((result) => (result.status === 'fulfilled' ? result.value : String(result.reason)))).toEqual([
    'a1',
    'Error: a2 failed',
    'b1',
    'a3',
  ]);
  const ofA = log.filter((line) => line.startsWith('a'));
  expect(ofA).toEqual(['a1 start', 'a1 end', 'a2 start', 'a2 end', 'a3 start', 'a3 end']);
  // b ran while a1 did: keys do not wait for each other.
  expect(log.indexOf('b1 start')).toBeLessThan(log.indexOf('a1 end'));
  expect(most).toBe(2);
});
