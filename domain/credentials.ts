/**
 * The credential a message was sent with, as the API that checked it says (item 6 of the gate:
 * every decision records what made it). A message with none came straight through Temporal (the
 * `temporal` CLI, the Web UI, an SDK client): whoever reaches Temporal is an operator, and may
 * name any credential there too — docs/security-model.md.
 */
export type Credential =
  /** An API token, by its id (`plans token list`). */
  | { kind: 'token'; id: string }
  /** A person's sign-in through the organization's identity provider (OpenID Connect): its id, and when they authenticated there. */
  | { kind: 'sign-in'; id: string; authTime: string }
  /** A signed link (its one-time id), acting because its person proved it: their token, or delivery to their own destination. */
  | { kind: 'link'; id: string; provedBy: { kind: 'token' | 'subscription'; id: string } }
  /** Sent to the workflow directly, with no credential the API checked. */
  | { kind: 'temporal' }
  /** The run's own expiry timer (`system` decides per `onExpiry`). */
  | { kind: 'expiry' }
  /** A standing approval the person gave on an identical plan earlier (its id), applied when this run was created. */
  | { kind: 'standing'; id: string };

/** The credentials the API checks: what a message it sends may carry. */
export type CheckedCredential = Extract<Credential, { kind: 'token' | 'link' | 'sign-in' }>;
