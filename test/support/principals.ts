import type { Stack } from '../../app/stack.js';
import type { PrincipalKind } from '../../domain/principals.js';
import { callApi } from './http.js';

/** Who a test acts as: by default a person with the approver role. */
export interface TestPrincipal {
  kind?: PrincipalKind;
  roles?: string[];
}

/** An API token for `principalId` of `organizationId`, made (or updated) as an operator would. */
export async function tokenFor(stack: Stack, organizationId: string, principalId: string, as: TestPrincipal = {}): Promise<string> {
  const issued = await stack.plans.principals.issueToken(
    { organizationId, principalId, kind: as.kind ?? 'person', roles: as.roles ?? ['approver'] },
    'test',
  );
  return issued.token;
}

/** The same through a stack's HTTP API with its operator token (for a stack in another process). */
export async function tokenThroughApi(
  apiUrl: string,
  operatorToken: string,
  organizationId: string,
  principalId: string,
  as: TestPrincipal = {},
): Promise<string> {
  const issued = await callApi<{ token?: string }>(apiUrl, operatorToken, 'POST', '/v1/tokens', {
    organizationId,
    principalId,
    kind: as.kind ?? 'person',
    roles: as.roles ?? ['approver'],
  });
  if (!issued.token) throw new Error(`Could not make a token for ${principalId}: ${JSON.stringify(issued)}`);
  return issued.token;
}

/** The people the integration tests decide as: persons with the approver role. */
export const CAST = ['alice', 'bob', 'carol', 'dave', 'eve', 'ops', 'a', 'p', 'x', 'cli-user', 'early-bird', 'web-ui'];

/** Registers `people` in `organizationId` as persons with the approver role (no tokens). */
export async function castIn(stack: Stack, organizationId: string, people: readonly string[] = CAST): Promise<void> {
  await Promise.all(people.map((id) => stack.store.principals.save({ organizationId, id, kind: 'person', roles: ['approver'] })));
}

/** A fresh organization and the tokens of its usual cast. */
export type Organization<P extends string> = { organizationId: string; admin: string; planner: string; alice: string } & {
  [person in P]: string;
};

/**
 * A fresh organization with its usual cast, each with a token: `admin` (the person `ops`, an
 * admin), `planner` (the agent that drafts, no roles), `alice` and every other person named (approvers).
 */
export async function organizationWith<P extends string = never>(stack: Stack, people: readonly P[] = []): Promise<Organization<P>> {
  const organizationId = `org-${crypto.randomUUID()}`;
  const persons = Object.fromEntries(
    await Promise.all(['alice', ...people].map(async (id) => [id, await tokenFor(stack, organizationId, id)] as const)),
  );
  return {
    organizationId,
    admin: await tokenFor(stack, organizationId, 'ops', { roles: ['admin'] }),
    planner: await tokenFor(stack, organizationId, 'planner', { kind: 'agent', roles: [] }),
    ...persons,
  } as Organization<P>;
}
