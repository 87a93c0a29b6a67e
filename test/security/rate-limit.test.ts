import { randomUUID } from 'node:crypto';

import type { Stack } from '../../app/stack.js';
import { tokenFor } from '../support/principals.js';
import { startTestStack } from '../support/stack.js';

/** One token cannot flood the API: past its limit a minute it gets 429 with Retry-After, others go on. */

let stack: Stack;
beforeAll(async () => {
  stack = await startTestStack({ rateLimitPerMinute: 5 });
}, 120_000);
afterAll(async () => stack?.stop());

const me = (token: string) =>
  fetch(`${stack.apiUrl}/v1/me`, { headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(30_000) });

it('past its limit a token gets 429 with Retry-After and the API error shape; another token and the health probe are not held back', async () => {
  const organizationId = `org-${randomUUID()}`;
  const flooder = await tokenFor(stack, organizationId, 'flooder', { kind: 'agent', roles: [] });
  const other = await tokenFor(stack, organizationId, 'alice');
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) statuses.push((await me(flooder)).status);
  expect(statuses).toEqual([200, 200, 200, 200, 200]);
  const refused = await me(flooder);
  expect(refused.status).toBe(429);
  expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
  expect(await refused.json()).toEqual({
    error: {
      code: 'rate-limited',
      message: expect.stringMatching(/^Too many requests: at most 5 a minute from this token; try again in \d+ s\.$/),
    },
  });
  expect((await me(other)).status).toBe(200);
  for (let i = 0; i < 10; i++) expect((await fetch(`${stack.apiUrl}/healthz`)).status).not.toBe(429);
  // The document says so.
  const document = (await (await fetch(`${stack.apiUrl}/openapi.json`)).json()) as {
    paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
  };
  expect(Object.keys(document.paths['/v1/me']!.get!.responses)).toContain('429');
});
