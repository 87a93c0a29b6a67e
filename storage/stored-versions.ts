/**
 * Tells waiters in this process when a run's stored version moves on, so a caller waiting for
 * its workflow's answer to land (`RunStore.waitForVersion`) wakes when the flush commits instead
 * of asking SurrealDB again and again. Writes made by another process are not seen here; a
 * waiter still looks at SurrealDB now and then for those.
 */
export class StoredVersions {
  private readonly waiters = new Map<string, Set<() => void>>();

  /** A flush of `runId` committed (which version does not matter: each waiter reads for itself). */
  stored(runId: string): void {
    const waiting = this.waiters.get(runId);
    if (!waiting) return;
    this.waiters.delete(runId);
    for (const wake of waiting) wake();
  }

  /** Resolves at the next commit of `runId` in this process, or after `ms`, whichever comes first. */
  next(runId: string, ms: number): Promise<void> {
    return new Promise((resolve) => {
      const waiting = this.waiters.get(runId) ?? new Set();
      this.waiters.set(runId, waiting);
      const wake = () => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        waiting.delete(wake);
        if (waiting.size === 0 && this.waiters.get(runId) === waiting) this.waiters.delete(runId);
        resolve();
      }, ms);
      waiting.add(wake);
    });
  }
}
