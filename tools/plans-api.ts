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

/** Path segments are encoded: an id a model wrote never changes which route is called. */
export function pathOf(strings: TemplateStringsArray, ...ids: string[]): string {
  return strings.reduce((path, part, index) => path + part + (index < ids.length ? encodeURIComponent(ids[index]!) : ''), '');
}
