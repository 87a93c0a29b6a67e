import type { ExportLine, VerifyReport } from '../audit/chain.js';
import type { AuditPublicKey } from '../audit/chain.js';
import type { AuditReceipt, ExportWindow, PlanStore } from '../storage/plan-store.js';

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

  verify(organizationId: string): Promise<VerifyReport & { position: number }> {
    return this.store.audit.verify(organizationId);
  }

  receipt(organizationId: string, runId: string, by: { sequence?: number; emittedBy?: string }): Promise<AuditReceipt | null> {
    return this.store.audit.receipt(organizationId, runId, by);
  }

  keys(organizationId: string): Promise<AuditPublicKey[]> {
    return this.store.audit.keys(organizationId);
  }

  rotateKey(organizationId: string): Promise<AuditPublicKey> {
    return this.store.audit.rotateKey(organizationId);
  }
}
