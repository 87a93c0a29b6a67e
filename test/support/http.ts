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
