import type { Stack } from '../../app/stack.js';
import { startTestStack } from './stack.js';

/** What an API answered, refusals included: the status, the parsed body (`{error: {code, message}}` for a refusal) and how long it took (`ms`, not enumerable). */
export interface Answer<T> {
  status: number;
  body: T;
  ms: number;
}

/** How to send a request beyond its JSON body: `raw`, a body sent as written (malformed JSON, say); a time limit other than 30 s. */
export interface AskOptions {
  raw?: string;
  timeoutMs?: number;
}

/**
 * The one HTTP helper of the tests: a request to a plans HTTP API as `token`'s principal (none:
 * no Authorization header), bounded in time; answers whatever came back, refusals included.
 */
export async function askApi<T = { error?: { code: string; message: string } }>(
  apiUrl: string,
  token: string | undefined,
  method: string,
  path: string,
  body?: unknown,
  options: AskOptions = {},
): Promise<Answer<T>> {
  const started = Date.now();
  const sent = options.raw ?? (body === undefined ? undefined : JSON.stringify(body));
  const response = await fetch(`${apiUrl}${path}`, {
    method,
    headers: {
      ...(token ? { authorization: `Bearer ${token}` } : {}),
      ...(sent === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(sent === undefined ? {} : { body: sent }),
    signal: AbortSignal.timeout(options.timeoutMs ?? 30_000),
  });
  const text = await response.text();
  // `ms` is not enumerable: an answer compares equal to `{status, body}`.
  return Object.defineProperty({ status: response.status, body: (text ? JSON.parse(text) : undefined) as T }, 'ms', {
    value: Date.now() - started,
    enumerable: false,
  }) as Answer<T>;
}

/** The same, for a request that must succeed: answers the body, or throws naming the status (kept on the error as `status`). */
export async function callApi<T>(apiUrl: string, token: string, method: string, path: string, body?: unknown): Promise<T> {
  // Bounded generously: callers wait through restarts of the processes under test.
  const answer = await askApi<T>(apiUrl, token, method, path, body, { timeoutMs: 120_000 });
  if (answer.status < 200 || answer.status >= 300) {
    throw Object.assign(new Error(`${method} ${path} answered ${answer.status}: ${JSON.stringify(answer.body)}`), {
      status: answer.status,
    });
  }
  return answer.body;
}

/**
 * A test file's own stack (started before its tests, stopped after), and `call`: a request to
 * its API as a token's principal, answering status and body, refusals included.
 */
export function apiStackForFile(): {
  stack: () => Stack;
  call: <T = { error?: { code: string; message: string } }>(
    token: string,
    method: string,
    path: string,
    body?: unknown,
  ) => Promise<Answer<T>>;
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
