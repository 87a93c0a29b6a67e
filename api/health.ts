import { PlanError } from '../domain/errors.js';

/** The parts a plan needs to be created and decided right now. */
export const STACK_PARTS = ['temporal', 'surrealdb', 'worker'] as const;
export type StackPart = (typeof STACK_PARTS)[number];

/** What `/healthz` answers: `ok` only when every part works now; otherwise which are down, and why. */
export interface Health {
  status: 'ok' | 'starting' | 'unavailable';
  down: Array<{ part: StackPart; reason: string }>;
}

/** Resolves when the part works; rejects with why not. */
export type Probe = () => Promise<void>;

const PROBE_TIMEOUT_MS = 1500;
/** A check answers many requests: probing on every request would load what it watches. */
const FRESH_FOR_MS = 500;

function withTimeout(probe: Probe): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${PROBE_TIMEOUT_MS} ms`)), PROBE_TIMEOUT_MS);
  });
  return Promise.race([probe(), timeout]).finally(() => clearTimeout(timer));
}

/**
 * The stack's honest health: each part probed (at most every half second, each probe bounded),
 * so `/healthz` says what is down and writes that need a part that is down are refused at once
 * (`unavailable`, 503) instead of hanging until a client gives up.
 */
export class HealthMonitor {
  private last: { at: number; health: Health } | undefined;
  private probing: Promise<Health> | undefined;

  constructor(
    private readonly probes: Readonly<Record<StackPart, Probe>>,
    private readonly started: () => boolean,
  ) {}

  /** The parts' health now: probed, or as found in the last half second; callers meanwhile share one probe. */
  async check(): Promise<Health> {
    if (!this.started()) return { status: 'starting', down: [] };
    if (this.last && Date.now() - this.last.at <= FRESH_FOR_MS) return this.last.health;
    this.probing ??= this.probe().then((health) => {
      this.last = { at: Date.now(), health };
      this.probing = undefined;
      return health;
    });
    return this.probing;
  }

  /** Refuses with `unavailable` when any of `parts` is down, naming it; nothing has been done then. */
  async require(parts: readonly StackPart[], doing: string): Promise<void> {
    const health = await this.check();
    const down = health.down.filter((entry) => parts.includes(entry.part));
    if (health.status === 'starting')
      throw new PlanError('unavailable', `The stack is still starting; ${doing} was not done. Try again shortly.`);
    if (down.length) {
      const which = down.map((entry) => `${entry.part} (${entry.reason})`).join(', ');
      throw new PlanError(
        'unavailable',
        `${which} ${down.length === 1 ? 'is' : 'are'} not available right now; ${doing} was not done. Try again shortly.`,
      );
    }
  }

  private async probe(): Promise<Health> {
    const results = await Promise.all(
      STACK_PARTS.map(async (part) => {
        try {
          await withTimeout(this.probes[part]);
          return undefined;
        } catch (error) {
          return { part, reason: (error as Error).message.split('\n')[0]!.slice(0, 200) };
        }
      }),
    );
    const down = results.filter((entry) => entry !== undefined);
    return { status: down.length ? 'unavailable' : 'ok', down };
  }
}
