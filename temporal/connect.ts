import { Connection, type ConnectionOptions } from '@temporalio/client';

/** gRPC status codes that say the frontend may answer later: UNAVAILABLE, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED. */
const PASSING_STATUS = new Set([14, 4, 8]);
const NOT_FOUND = 5;

/**
 * Whether an error reaching Temporal can pass by itself, so a start tries again
 * (`app/start-retry.ts`): a frontend that refuses connections or times out while it (or the
 * history service behind it) starts. Not: a missing namespace, a refused credential.
 */
export function isPassingTemporalError(error: unknown): boolean {
  for (let current: unknown = error; current instanceof Error; current = current.cause) {
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'number' && PASSING_STATUS.has(code)) return true;
    if (
      /Failed to connect before the deadline|Connection refused|ECONNREFUSED|tcp connect error|UNAVAILABLE|DEADLINE_EXCEEDED/i.test(
        current.message,
      )
    )
      return true;
  }
  return false;
}

/** How long one attempt waits for the frontend: short, so a start that retries says so every few seconds. */
const ATTEMPT_TIMEOUT_MS = 3_000;

/** Connects to the frontend and checks that it serves `namespace`: the namespace missing is said as such. */
export async function connectToNamespace(options: ConnectionOptions, namespace: string): Promise<Connection> {
  const connection = await Connection.connect({ connectTimeout: ATTEMPT_TIMEOUT_MS, ...options });
  try {
    await connection.withDeadline(Date.now() + ATTEMPT_TIMEOUT_MS, () => connection.workflowService.describeNamespace({ namespace }));
    return connection;
  } catch (error) {
    await connection.close().catch(() => {});
    if ((error as { code?: unknown }).code === NOT_FOUND) {
      throw new Error(
        `Temporal at ${options.address} has no namespace "${namespace}": create it (temporal operator namespace create --namespace ${namespace}) or set TEMPORAL_NAMESPACE`,
        { cause: error },
      );
    }
    throw error;
  }
}
