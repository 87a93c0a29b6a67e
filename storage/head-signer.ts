import type { AuditStore } from './audit-store.js';

/** How often each organization's chain head is signed at least: after so many events, or so long after its last write. */
export interface SigningCadence {
  events: number;
  ms: number;
}

export const DEFAULT_SIGNING_CADENCE: SigningCadence = { events: 100, ms: 10_000 };

/**
 * Signs the heads of the chains this process writes: at once when an organization has had
 * `events` events since its last signature here, else within `ms` of its last write. Every
 * process that writes events signs what it wrote (a head signed twice is stored once), so no
 * write stays unsigned longer than the cadence, whichever process made it.
 */
export class HeadSigner {
  /** Events written per organization since this process last signed its head. */
  private readonly unsigned = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private warned = false;

  constructor(
    private readonly audit: AuditStore,
    private readonly cadence: SigningCadence = DEFAULT_SIGNING_CADENCE,
  ) {}

  /** A write of `events` events of the organization committed. */
  written(organizationId: string, events: number): void {
    if (events === 0) return;
    const count = (this.unsigned.get(organizationId) ?? 0) + events;
    this.unsigned.set(organizationId, count);
    if (count >= this.cadence.events) void this.sign(organizationId);
    // unref: a pending signature never keeps a process alive (the next process to write signs).
    this.timer ??= setInterval(() => void this.signAll(), this.cadence.ms).unref();
  }

  /** Signs every organization written since its last signature; stops the timer. */
  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.signAll();
  }

  private async signAll(): Promise<void> {
    await Promise.all([...this.unsigned.keys()].map((organizationId) => this.sign(organizationId)));
  }

  private async sign(organizationId: string): Promise<void> {
    const count = this.unsigned.get(organizationId) ?? 0;
    this.unsigned.delete(organizationId);
    try {
      await this.audit.signHead(organizationId);
    } catch (error) {
      // Tried again at the next tick (the events stay unsigned until then).
      this.unsigned.set(organizationId, (this.unsigned.get(organizationId) ?? 0) + count);
      // A database closed under the timer: the process is stopping (the next one to write signs).
      if (/must be connected/i.test((error as Error).message)) return;
      // The chain itself is written with the events; only its signature waits. Say so once, not per write.
      if (!this.warned) console.warn(`Audit chain heads are not being signed: ${(error as Error).message}`);
      this.warned = true;
    }
  }
}
