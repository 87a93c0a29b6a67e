import { z } from 'zod';

import type { Delegation } from './delegation-terms.js';
import { IdSchema } from './id-schema.js';
import { PrincipalIdSchema } from './principals.js';
import { ReasonSchema } from './requests.js';

/*
 * Delegations at the edges: the record as answered. What one is and when it holds are in
 * delegation-terms.ts (no zod: the workflow reads them); the request that makes one is
 * `DelegationRequestSchema` (requests.ts), with every request's contract.
 */

export { type Delegation, MAX_DELEGATION_DAYS, isActive, untilInstant, untilProblem } from './delegation-terms.js';

const Instant = z.iso.datetime();

/** A delegation as stored and answered (`Delegation`): revoked ones carry when and by whom. */
export const DelegationSchema = z
  .object({
    delegationId: z.uuid(),
    organizationId: IdSchema,
    from: PrincipalIdSchema.describe('The delegator: the person whose approvals the delegate may make'),
    to: PrincipalIdSchema.describe('The delegate, whose approvals for the delegator are recorded as `to for from`'),
    until: Instant.describe('When it ends (UTC): it holds before this instant'),
    reason: ReasonSchema.optional(),
    createdBy: IdSchema.describe('The delegator, or the admin who made it for them'),
    createdAt: Instant,
    revokedAt: Instant.optional().describe('When it was revoked; absent while not revoked'),
    revokedBy: IdSchema.optional().describe('Who revoked it: the delegator, the delegate or an admin'),
  })
  .strict();

/** The schema describes the record type exactly: a field added to one and not the other fails to compile. */
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const schemaIsTheRecord: Same<z.infer<typeof DelegationSchema>, Delegation> = true;
void schemaIsTheRecord;
