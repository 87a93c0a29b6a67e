import type { Stack } from '../../app/stack.js';
import { startTestStack } from './stack.js';

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

/**
 * A test file's own stack (started before its tests, stopped after), and `call`: a request to
 * its API as a token's principal, answering status and body, refusals included.
 */
export function apiStackForFile(): {
  stack: () => Stack;
  call: <T = { error?: { code: string; message: string } }>(token: string, method: string, path: string, body?: unknown) => Promise<Answer<T>>;
} {
  let stack: Stack | undefined;
  beforeAll(async () => {
    stack = await startTestStack();
  }, 120_000);
  afterAll(async () => stack?.stop());
  const started = () => {
    if (!stack) throw new Error('The stack of this test file did not start (see beforeAll).');
    return stack;
  };
  return { stack: started, call: (token, method, path, body) => askApi(started().apiUrl, token, method, path, body) };
}
