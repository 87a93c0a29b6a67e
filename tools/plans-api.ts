import { PlanError, isPlanErrorCode } from '../domain/errors.js';

/**
 * What the plan tools need of the plans HTTP API: one request, answered with its body and the
 * cursor to the next page. The CLI's `ApiClient` is one (over the network, with the agent's
 * token); the `/mcp` route's `InjectedApi` is another (the same routes, in process). Either way
 * every tool call goes through the API's own routes — its validation, its permission table,
 * its organization scoping — so no tool can do what the API would refuse.
 */
export interface PlansApi {
  /** Refusals are thrown as PlanErrors with the API's code, message and issues. */
  send<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ body: T; nextCursor: string | null }>;
}

/**
 * Path segments are encoded: an id a model wrote never changes which route is called. An empty
 * id or a dot segment (which URLs resolve, encoded or not) is refused rather than sent.
 */
export function pathOf(strings: TemplateStringsArray, ...ids: string[]): string {
  for (const id of ids) if (/^\.{0,2}$/.test(id)) throw new PlanError('invalid-input', `"${id}" is not an id.`);
  return strings.reduce((path, part, index) => path + part + (index < ids.length ? encodeURIComponent(ids[index]!) : ''), '');
}

/** The API's `{error: {code, message, issues}}` answer as the PlanError it stands for. */
export function refusalFromAnswer(status: number, payload: unknown): PlanError {
  const error = (payload as { error?: { code?: string; message?: string; issues?: never } } | undefined)?.error;
  const code = isPlanErrorCode(error?.code) ? error.code : 'unavailable';
  return new PlanError(code, error?.message ?? `The plans API answered ${status}.`, error?.issues);
}
