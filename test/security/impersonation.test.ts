import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import type { PlanSnapshot } from '../../domain/snapshot.js';
import { crossThread } from '../support/drafts.js';
import { apiStackForFile } from '../support/http.js';
import { tokenFor } from '../support/principals.js';
import { tempDir } from '../support/stack.js';

/**
 * Nobody decides as someone else by making themselves a credential: admin is a person's role,
 * and only the operator mints a token for another person. Credentials that do not parse are
 * refused as such, never a 500.
 */

const { stack, call } = apiStackForFile();

it('an admin cannot mint a token for an existing person and approve as them; the operator can, and anyone for themselves', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  const planner = await tokenFor(stack(), organizationId, 'planner', { kind: 'agent', roles: [] });
  await tokenFor(stack(), organizationId, 'alice');
  const plan = (await call<PlanSnapshot>(planner, 'POST', '/v1/plans', crossThread())).body;

  const minted = await call(admin, 'POST', '/v1/tokens', { principalId: 'alice' });
  expect(minted).toMatchObject({
    status: 403,
    body: { error: { code: 'forbidden', message: expect.stringContaining('Only the operator') } },
  });
  // Nor by changing her roles on the way.
  expect((await call(admin, 'POST', '/v1/tokens', { principalId: 'alice', kind: 'person', roles: ['approver', 'admin'] })).status).toBe(
    403,
  );
  expect((await call<PlanSnapshot>(admin, 'GET', `/v1/plans/${plan.runId}`)).body.status).toBe('pending-approval');
  // A new person, a new agent, and one more token for the admin themselves: fine.
  expect((await call(admin, 'POST', '/v1/tokens', { principalId: 'newcomer', kind: 'person', roles: ['approver'] })).status).toBe(201);
  expect((await call(admin, 'POST', '/v1/tokens', { principalId: 'helper', kind: 'agent' })).status).toBe(201);
  expect((await call(admin, 'POST', '/v1/tokens', { principalId: 'ops' })).status).toBe(201);
  // The operator token (whoever holds the data dir) may: it is how the first admin is made.
  expect((await call(stack().operatorToken, 'POST', '/v1/tokens', { organizationId, principalId: 'alice' })).status).toBe(201);
});

it('admin is a role for persons only: no agent or service is made one, by an admin or the operator', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  await tokenFor(stack(), organizationId, 'planner', { kind: 'agent', roles: [] });
  for (const [token, body] of [
    [admin, { principalId: 'planner', roles: ['admin'] }],
    [admin, { principalId: 'robot', kind: 'agent', roles: ['approver', 'admin'] }],
    [stack().operatorToken, { organizationId, principalId: 'svc', kind: 'service', roles: ['admin'] }],
  ] as const) {
    expect(await call(token, 'POST', '/v1/tokens', body)).toMatchObject({
      status: 400,
      body: { error: { message: expect.stringContaining('admin is a role for persons only') } },
    });
  }
  expect((await call<{ roles: string[] }>(admin, 'GET', '/v1/tokens')).status).toBe(200);
  // One that holds admin from before this rule (or an import) holds no admin power.
  const stored = await stack().store.principals.save({ organizationId, id: 'old-bot', kind: 'agent', roles: ['admin'] });
  const issued = await stack().store.principals.addToken(
    stored,
    (await import('../../auth/tokens.js')).hashToken('ept_old-bot-token-0123456789'),
    'test',
  );
  expect(issued).toBeDefined();
  for (const [method, path, body] of [
    ['POST', '/v1/tokens', { principalId: 'sock', kind: 'person', roles: ['approver'] }],
    ['PUT', '/v1/policy', { skipApproval: ['old-bot'] }],
    ['POST', '/v1/doctor', {}],
  ] as const) {
    expect([method, path, (await call('ept_old-bot-token-0123456789', method, path, body)).status]).toEqual([method, path, 403]);
  }
  expect(await stack().store.principals.find(organizationId, 'robot')).toBeUndefined();
  expect((await stack().store.principals.find(organizationId, 'planner'))!.roles).toEqual([]);
});

it('a credential with characters of any width is refused as unknown, never answered with a 500', async () => {
  const wide = 'ept_operator_' + 'é'.repeat(stack().operatorToken.length - 'ept_operator_'.length); // as many characters as the operator token (HTTP sends them as Latin-1), more bytes in UTF-8
  for (const token of [wide, stack().operatorToken.slice(0, -1) + 'ü']) {
    expect((await call(token, 'GET', '/v1/me')).status).toBe(401);
  }
  const link = `/links/${Buffer.from('{}').toString('base64url')}.${'ü'.repeat(43)}`;
  expect((await fetch(`${stack().apiUrl}${link}`, { method: 'POST' })).status).toBe(403);
});

it('the data dir is the owner’s alone, and an offline `plans token create` exits when done', async () => {
  const dataDir = join(tempDir('plans-offline-'), 'data');
  mkdirSync(dataDir, { mode: 0o755 }); // made before the rule, open to all
  const bin = fileURLToPath(new URL('../../../bin/plans.js', import.meta.url));
  const { PLANS_TOKEN: _token, PLANS_API_URL: _api, ...env } = process.env;
  const { stdout } = await promisify(execFile)(
    process.execPath,
    [bin, 'token', 'create', '--org', 'acme', '--principal', 'ada', '--kind', 'person', '--role', 'admin', '--data-dir', dataDir],
    {
      env: { ...env, PLANS_API_URL: 'http://127.0.0.1:9' }, // no stack answers: it writes straight into the data dir
      timeout: 60_000,
    },
  );
  expect(stdout.trim()).toMatch(/^ept_/);
  expect(statSync(dataDir).mode & 0o777).toBe(0o700);
}, 90_000);

it('an absolute-form request target is authenticated like any other: no token, 401 (decided on the parsed path)', async () => {
  const { port } = new URL(stack().apiUrl);
  const ask = (target: string) =>
    new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () =>
        socket.end(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`),
      );
      let answer = '';
      socket.on('data', (chunk) => (answer += chunk));
      socket.on('end', () => resolve(answer.split('\r\n')[0]!));
      socket.on('error', reject);
      socket.setTimeout(30_000, () => socket.destroy(new Error(`no answer to GET ${target} within 30 s`)));
    });
  for (const target of [`http://127.0.0.1:${port}/v1/me`, `http://evil.example/v1/plans`, '/v1/me']) {
    expect([target, await ask(target)]).toEqual([target, 'HTTP/1.1 401 Unauthorized']);
  }
});

it('a percent-encoded path reaches the same route and is authenticated like it: /%761/me, /v1/%6de, /%6dcp (decided on the matched route)', async () => {
  const organizationId = `org-${randomUUID()}`;
  const revoked = await tokenFor(stack(), organizationId, 'planner', { kind: 'agent', roles: [] });
  const admin = await tokenFor(stack(), organizationId, 'ops', { roles: ['admin'] });
  const tokens = (await call<Array<{ tokenId: string; principalId: string }>>(admin, 'GET', '/v1/tokens')).body;
  const { tokenId } = tokens.find((token) => token.principalId === 'planner')!;
  expect((await call(admin, 'DELETE', `/v1/tokens/${tokenId}`)).status).toBe(200);
  for (const path of ['/%761/me', '/v1/%6de', '/%6dcp']) {
    const anonymous = await fetch(new URL(path, stack().apiUrl), { method: path.endsWith('cp') ? 'POST' : 'GET' });
    expect([path, anonymous.status]).toEqual([path, 401]);
    const withRevoked = await fetch(new URL(path, stack().apiUrl), { headers: { authorization: `Bearer ${revoked}` } });
    expect([path, withRevoked.status]).toEqual([path, 401]);
  }
});
