import type { LinkClaims } from '../auth/links.js';
import type { SignedIn } from './principals-client.js';
import { decidingThreadOf } from '../domain/context.js';
import type { Credential } from '../domain/decisions.js';
import { PlanError } from '../domain/errors.js';
import type { DecisionRequest } from '../domain/requests.js';
import type { PlanSnapshot } from '../domain/snapshot.js';
import type { PlanStore } from '../storage/plan-store.js';

/** How a link's person proved it was them. */
export type LinkProof = Extract<Credential, { kind: 'link' }>['provedBy'];

/** How the link's person proved it was them: their token, or delivery to their own subscription. */
export async function proveLinkHolder(store: PlanStore, claims: LinkClaims, presenter: SignedIn | undefined): Promise<LinkProof> {
  const person = claims.principalId;
  if (presenter) {
    const { principal } = presenter;
    if (principal.organizationId !== claims.organizationId || principal.id !== person) {
      throw new PlanError('forbidden', `This link decides as ${person}; you are signed in as ${principal.id}.`);
    }
    return presenter.credential;
  }
  if (claims.subscriptionId) {
    const subscription = await store.subscriptions.get(claims.organizationId, claims.subscriptionId);
    // Their destination proves it is them only while they are in: every token revoked, their links are too.
    if (subscription?.principalId === person && (await store.principals.hasActiveToken(claims.organizationId, person))) {
      return { kind: 'subscription', id: claims.subscriptionId };
    }
    throw new PlanError(
      'unauthorized',
      `The destination this link was delivered to no longer stands for ${person} (deleted, or every token of theirs revoked): sign in as ${person} to decide (their API token, or the inbox).`,
    );
  }
  throw new PlanError(
    'unauthorized',
    `This link decides as ${person} only when ${person} signs in: send their API token (Authorization: Bearer …), or decide in the inbox.`,
  );
}

/** The decision a link carries, as the person it names and on the revision it showed (a rejection with its resolution). */
export function linkDecision(claims: LinkClaims, run: PlanSnapshot, credential: Credential): DecisionRequest {
  const decision = {
    credential,
    runId: run.runId,
    organizationId: run.organizationId,
    threadId: decidingThreadOf(run),
    emittedBy: claims.principalId,
    expectedRevision: claims.revision,
  };
  return claims.decision === 'approve'
    ? decision
    : { ...decision, resolution: claims.decision === 'reject' ? 'rejected' : 'changes-requested' };
}
