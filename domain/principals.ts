import { z } from 'zod';

import { IdSchema } from './id-schema.js';

/**
 * Who acts. Every API token stands for one principal of one organization: a person, an agent or
 * a service, with roles. The rules that use them (who may approve, who may complete a step) are
 * in `approval.ts`, pure and shared with the workflow; these are the zod schemas of the edges.
 */

export const PRINCIPAL_KINDS = ['person', 'agent', 'service'] as const;
export type PrincipalKind = (typeof PRINCIPAL_KINDS)[number];

/** Roles every organization has; its policy may declare more (`roles`). */
export const BUILT_IN_ROLES = ['approver', 'admin'] as const;

export const RoleSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,39}$/, 'must be 1-40 lower-case letters, digits or "-", starting with a letter');

/** A principal's id: an id that cannot be mistaken for a role selector (`role:NAME`). */
export const PrincipalIdSchema = IdSchema.refine((id) => !id.startsWith('role:'), 'must not start with "role:" (that names a role)');

/** Who a rule names: a principal id, or `role:NAME` for everyone with that role. */
export const SelectorSchema = z
  .string()
  .refine(
    (value) => (value.startsWith('role:') ? RoleSchema.safeParse(value.slice('role:'.length)).success : IdSchema.safeParse(value).success),
    'must be a principal id or role:NAME',
  );

/** The roles a list of selectors names. */
export function rolesNamed(selectors: readonly string[]): string[] {
  return selectors.filter((selector) => selector.startsWith('role:')).map((selector) => selector.slice('role:'.length));
}

export const PrincipalSchema = z
  .object({
    organizationId: IdSchema,
    id: PrincipalIdSchema,
    kind: z.enum(PRINCIPAL_KINDS),
    roles: z.array(RoleSchema).max(20),
  })
  .strict();
export type Principal = z.infer<typeof PrincipalSchema>;

/** `plans token create` / `POST /v1/tokens`: a token for a principal, made (or updated) on the way. */
export const TokenRequestSchema = z
  .object({
    organizationId: IdSchema,
    principalId: PrincipalIdSchema,
    /** Required for a new principal; an existing one keeps its kind (naming another is refused). */
    kind: z.enum(PRINCIPAL_KINDS).optional(),
    /** Replaces the principal's roles when given. */
    roles: z.array(RoleSchema).max(20).optional(),
  })
  .strict();
export type TokenRequest = z.infer<typeof TokenRequestSchema>;
/** The same as a principal's view takes it (the HTTP body): for the token's organization unless the operator names one. */
export type TokenBody = Omit<TokenRequest, 'organizationId'> & { organizationId?: string | undefined };

/** A token as listed: never the token itself, nor its hash. */
export interface TokenView {
  tokenId: string;
  organizationId: string;
  principalId: string;
  kind: PrincipalKind;
  roles: string[];
  createdAt: string;
  createdBy: string;
  revokedAt: string | null;
  revokedBy: string | null;
}
