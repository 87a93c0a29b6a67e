/*
 * What the load promised and to whom: the chaos suite's load makes these, its checks read them.
 */

/** What an answered request promised: each is checked once the stack is quiet. */
export type Accepted =
  | { kind: 'created'; organizationId: string; runId: string }
  | { kind: 'approved'; runId: string; by: string }
  | { kind: 'rejected'; runId: string; by: string }
  | { kind: 'completed'; runId: string; nodeId: string; by: string }
  | { kind: 'aborted'; runId: string }
  | { kind: 'replaced'; runId: string; by: string; replacement: string };

export interface Organization {
  id: string;
  tokens: { planner: string; alice: string; bob: string; admin: string };
}
