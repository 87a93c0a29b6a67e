/** A request to a plans HTTP API in another process; answers the body, or throws naming the status (kept on the error as `status`). */
export async function callApi<T>(apiUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  if (!response.ok) throw Object.assign(new Error(`${method} ${path} answered ${response.status}: ${text}`), { status: response.status });
  return JSON.parse(text) as T;
}

/** What an API answered, refusals included: the status and the parsed body (`{error: {code, message}}` for a refusal). */
export interface Answer<T> {
  status: number;
  body: T;
}

/** A request to a plans HTTP API as `token`'s principal, bounded (30 s); answers whatever came back, refusals included. */
export async function askApi<T = { error?: { code: string; message: string } }>(apiUrl: string, token: string, method: string, path: string, body?: unknown): Promise<Answer<T>> {
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}
