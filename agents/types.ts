import type { ArtifactRecord } from '../domain/run-state.js';

/** What an agent is handed to work on one node. */
export interface AgentContext {
  runId: string;
  organizationId: string;
  threadId: string;
  node: { nodeId: string; title: string; instructions?: string };
  agentId: string;
  /** 1 for the first attempt; a retry after a failure or a lost worker counts up. */
  attempt: number;
  /** Outputs of the nodes this one depends on. */
  upstream: ArtifactRecord[];
  /** Fires when the run is aborted or the attempt times out: stop work and throw. */
  signal: AbortSignal;
  /** Report progress on long work; the worker also heartbeats on the agent's behalf. */
  heartbeat(details?: unknown): void;
}

/** An agent's answer: its output is stored as the node's artifact and handed downstream by id. */
export interface AgentResult {
  output: unknown;
}

/**
 * An agent platform's extension point: one handler per `agentId`. Throwing fails the attempt
 * (it is retried per the node's retry policy); the error's message is recorded.
 */
export type AgentHandler = (context: AgentContext) => Promise<AgentResult>;

export type AgentRegistry = Readonly<Record<string, AgentHandler>>;
