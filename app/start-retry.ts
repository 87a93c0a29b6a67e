/**
 * How a process gets past what is passing at its start: processes started side by side (a
 * rollout, a systemd target, `docker compose up`) meet each other's writes on a fresh SurrealDB
 * server, and engines that start with them answer a moment later. What the engine says can be
 * tried again is, with bounded, jittered backoff and a log line per retry; anything else fails
 * at once with its real cause. Each engine's module says what of its errors is passing
 * (`storage/database.ts` `isPassingOpenError`, `temporal/connect.ts` `isPassingTemporalError`).
 */

export interface StartRetryOptions {
  /** What is being reached, as the log lines and the final error name it ("SurrealDB at ws://…"). */
  what: string;
  /** Whether this error can pass by itself (a write conflict, a server not answering yet). */
  isPassing: (error: unknown) => boolean;
  /** Past this, the last error is final. */
  timeoutMs: number;
  log: (line: string) => void;
  /** The first wait; each next one doubles, up to `maxDelayMs`, and is jittered by ±50 %. */
  initialDelayMs?: number;
  maxDelayMs?: number;
}

/** The error a start gives up with: names what it could not reach and why, with the last error as its cause. */
export class StartError extends Error {
  constructor(message: string, options: { cause: unknown }) {
    super(message, options);
    this.name = 'StartError';
  }
}

/** The message of an error and of the causes beneath it that say something more. */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error; current instanceof Error && parts.length < 4; current = current.cause) {
    // A wrapper usually repeats its cause's message ("Cannot open …: <cause>"): say it once.
    if (!parts.at(-1)?.includes(current.message)) parts.push(current.message);
  }
  return parts.join(': ') || String(error);
}

/**
 * Runs `attempt` until it succeeds, retrying passing errors until `timeoutMs` has gone by.
 * Must: log one line per retry naming what failed and when it tries again. Must not: retry an
 * error that is not passing, or wait past the deadline.
 */
export async function retryStart<T>(attempt: () => Promise<T>, options: StartRetryOptions): Promise<T> {
  const started = Date.now();
  const deadline = started + options.timeoutMs;
  const initial = options.initialDelayMs ?? 200;
  const cap = options.maxDelayMs ?? 5_000;
  for (let attempts = 1; ; attempts++) {
    try {
      return await attempt();
    } catch (error) {
      if (!options.isPassing(error)) throw new StartError(`${options.what}: ${describeError(error)}`, { cause: error });
      const delay = Math.min(cap, initial * 2 ** (attempts - 1)) * (0.5 + Math.random());
      if (Date.now() + delay > deadline) {
        const seconds = ((Date.now() - started) / 1000).toFixed(1);
        throw new StartError(`${options.what}: gave up after ${attempts} attempts in ${seconds} s: ${describeError(error)}`, {
          cause: error,
        });
      }
      options.log(`${options.what}: ${describeError(error)}; trying again in ${(delay / 1000).toFixed(2)} s (attempt ${attempts + 1}).`);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}
