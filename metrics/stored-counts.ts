import type { RunCount } from '../storage/run-counts.js';

/** Counts younger than this are answered as they are: scrapes (and OTLP pushes) do not each count again. */
const FRESH_FOR_MS = 10_000;
/** A scrape waits this long for a count; past it, it answers the last counts (or none) and the count finishes for the next. */
const WAIT_AT_MOST_MS = 2_000;

/**
 * The stored runs' counts a gauge reads: counted at most every 10 s, one count at a time, and
 * never holding a scrape for more than 2 s — a slow count answers the previous counts meanwhile.
 */
export class StoredCounts {
  private last: { at: number; counts: RunCount[] } | undefined;
  private counting: Promise<RunCount[]> | undefined;

  constructor(private readonly count: () => Promise<RunCount[]>) {}

  async current(): Promise<RunCount[]> {
    if (this.last && Date.now() - this.last.at < FRESH_FOR_MS) return this.last.counts;
    this.counting ??= this.count()
      .then((counts) => {
        this.last = { at: Date.now(), counts };
        return counts;
      })
      .finally(() => {
        this.counting = undefined;
      });
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<RunCount[]>((resolve) => {
      timer = setTimeout(() => resolve(this.last?.counts ?? []), WAIT_AT_MOST_MS);
    });
    // A failed count (SurrealDB down) answers the last counts: `/healthz` is where an outage shows.
    return Promise.race([this.counting.catch(() => this.last?.counts ?? []), late]).finally(() => clearTimeout(timer));
  }
}
