import type { AuditPublicKey, ExportLine } from '../audit/chain.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import type { AuditReceipt, ExportWindow, LiveVerifyReport, PlanStore } from '../storage/plan-store.js';

/** A run as a decision (approval, rejection, a person's step, an abort) left it, with the decider's receipt. */
export type DecidedRun = PlanSnapshot & { receipt: AuditReceipt | null };

/**
 * The organizations' audit chains (docs/auditing.md): exports, the walk that verifies what is
 * stored, receipts and signing keys. Trusts its caller with any organization, as every client
 * of `PlansServices` does; an organization's view decides who may.
 */
export class AuditClient {
  constructor(private readonly store: PlanStore) {}

  /** The export's lines, signed at the head first. */
  exportLines(organizationId: string, window: ExportWindow = {}): AsyncGenerator<ExportLine> {
    return this.store.audit.exportLines(organizationId, window);
  }

  verify(organizationId: string): Promise<LiveVerifyReport> {
    return this.store.audit.verify(organizationId);
  }

  receipt(organizationId: string, runId: string, by: { sequence?: number; emittedBy?: string }): Promise<AuditReceipt | null> {
    return this.store.audit.receipt(organizationId, runId, by);
  }

  /** A decision's answer: the run with its decider's receipt (their last event of it in the chain, and the head that covers it). */
  async decided(organizationId: string, run: PlanSnapshot, decider: string): Promise<DecidedRun> {
    return { ...run, receipt: await this.receipt(organizationId, run.runId, { emittedBy: decider }) };
  }

  keys(organizationId: string): Promise<AuditPublicKey[]> {
    return this.store.audit.keys(organizationId);
  }

  rotateKey(organizationId: string): Promise<AuditPublicKey> {
    return this.store.audit.rotateKey(organizationId);
  }
}
