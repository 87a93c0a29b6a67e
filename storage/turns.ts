/**
 * Runs tasks one at a time per key, in the order they arrive; different keys run side by side.
 *
 * Every write of a run's events bumps its organization's feed counter, so two writes of one
 * organization in flight at once conflict in SurrealDB and one is done again from the start
 * (with four writers, over half the transactions were). Taking turns per organization inside
 * a process costs a short wait instead; writers in other processes still meet on the counter
 * and retry, which `runQuery` handles.
 */
export class Turns {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    const mine = before.then(task, task);
    const tail = mine.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // The last in line clears the key, so idle organizations leave nothing behind.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return mine;
  }
}
