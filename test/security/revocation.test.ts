import { randomUUID } from 'node:crypto';

import { apiStackForFile } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { within } from '../support/stack.js';

/** Revoking a token takes effect everywhere at once: its open live feeds end within seconds. */

const { stack, call } = apiStackForFile();

it('an open live feed ends within seconds of its token being revoked', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  const reader = await tokenFor(stack(), organizationId, 'reader', { kind: 'service', roles: [] });
  const response = await fetch(`${stack().apiUrl}/v1/events`, { headers: { authorization: `Bearer ${reader}` } });
  expect(response.status).toBe(200);
  const decoder = new TextDecoder();
  let text = '';
  const ended = within('the feed to end after its token was revoked', async (signal) => {
    const reader = response.body!.getReader();
    signal.addEventListener('abort', () => void reader.cancel());
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return text;
      text += decoder.decode(value, { stream: true });
    }
  }, 20_000);
  const tokens = (await call<Array<{ tokenId: string; principalId: string }>>(admin, 'GET', '/v1/tokens')).body;
  const { tokenId } = tokens.find((token) => token.principalId === 'reader')!;
  expect((await call(admin, 'DELETE', `/v1/tokens/${tokenId}`)).status).toBe(200);
  expect(await ended).toContain('event: revoked');
  // And it cannot come back.
  expect((await fetch(`${stack().apiUrl}/v1/events`, { headers: { authorization: `Bearer ${reader}` } })).status).toBe(401);
});
