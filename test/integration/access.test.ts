import { randomUUID } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import type { Stack } from '../../app/stack.js';
import { hashToken } from '../../auth/tokens.js';
import { tokenFor } from '../support/principals.js';
import { startTestStack, tempDir } from '../support/stack.js';
import { askApi } from '../support/http.js';

/** Principals, tokens and the approval policy through the HTTP API: who may manage them, and what is refused. */

let stack: Stack;
let oldTokens: { file: string; agent: string; person: string; organizationId: string };

beforeAll(async () => {
  // An earlier version's token file in the data dir: imported at start-up.
  const dataDir = tempDir();
  const organizationId = `org-${randomUUID()}`;
  const agent = 'ept_old_agent_token_0000000000000000';
  const person = 'ept_old_person_token_000000000000000';
  const file = join(dataDir, 'tokens.json');
  const entry = (token: string, actor: string) => ({
    tokenHash: hashToken(token),
    organizationId,
    actor,
    createdAt: '2026-01-01T00:00:00.000Z',
  });
  writeFileSync(
    file,
    JSON.stringify({ tokens: [entry(agent, 'old-planner'), { ...entry(person, 'old-alice'), kind: 'person', roles: ['approver'] }] }),
  );
  oldTokens = { file, agent, person, organizationId };
  stack = await startTestStack({ dataDir, tokensFile: file });
});
afterAll(async () => {
  await stack?.stop();
});

const call = <T = Record<string, unknown>>(token: string | undefined, method: string, path: string, body?: unknown) =>
  askApi<T>(stack.apiUrl, token, method, path, body);

type ErrorBody = { error: { code: string; message: string } };

it('imports an old tokens.json once: each token keeps working, as an agent unless the file says otherwise', async () => {
  expect(existsSync(oldTokens.file)).toBe(false);
  expect(existsSync(`${oldTokens.file}.imported`)).toBe(true);
  expect((await call(oldTokens.agent, 'GET', '/v1/me')).body).toEqual({
    organizationId: oldTokens.organizationId,
    id: 'old-planner',
    kind: 'agent',
    roles: [],
    signedIn: null,
  });
  expect((await call(oldTokens.person, 'GET', '/v1/me')).body).toEqual({
    organizationId: oldTokens.organizationId,
    id: 'old-alice',
    kind: 'person',
    roles: ['approver'],
    signedIn: null,
  });
  // Importing the same file again adds nothing.
  writeFileSync(
    oldTokens.file,
    JSON.stringify({
      tokens: [
        {
          tokenHash: hashToken(oldTokens.agent),
          organizationId: oldTokens.organizationId,
          actor: 'old-planner',
          createdAt: '2026-01-01T00:00:00.000Z',
        },
      ],
    }),
  );
  expect(await stack.plans.principals.importTokenFile(oldTokens.file)).toBe(0);
});

it('the operator token makes the first admin of an organization; the admin then manages its tokens', async () => {
  const organizationId = `org-${randomUUID()}`;
  const noOrg = await call<ErrorBody>(stack.operatorToken, 'POST', '/v1/tokens', { principalId: 'root', kind: 'person', roles: ['admin'] });
  expect(noOrg).toMatchObject({ status: 400, body: { error: { code: 'invalid-input' } } });
  const first = await call<{ token: string; tokenId: string; principal: unknown }>(stack.operatorToken, 'POST', '/v1/tokens', {
    organizationId,
    principalId: 'root',
    kind: 'person',
    roles: ['admin', 'approver'],
  });
  expect(first.status).toBe(201);
  expect(first.body.principal).toEqual({ organizationId, id: 'root', kind: 'person', roles: ['admin', 'approver'] });
  // The operator token does nothing but manage tokens.
  expect((await call<ErrorBody>(stack.operatorToken, 'GET', '/v1/plans')).body.error.code).toBe('forbidden');

  const admin = first.body.token;
  const made = await call<{ token: string; tokenId: string }>(admin, 'POST', '/v1/tokens', { principalId: 'bot', kind: 'agent' });
  expect(made.status).toBe(201);
  expect((await call(made.body.token, 'GET', '/v1/me')).body).toEqual({
    organizationId,
    id: 'bot',
    kind: 'agent',
    roles: [],
    signedIn: null,
  });
  const listed = await call<Array<{ tokenId: string; principalId: string; createdBy: string; revokedAt: string | null }>>(
    admin,
    'GET',
    '/v1/tokens',
  );
  expect(listed.body.map((token) => [token.principalId, token.createdBy, token.revokedAt])).toEqual([
    ['root', 'operator', null],
    ['bot', 'root', null],
  ]);
  expect(JSON.stringify(listed.body)).not.toContain(made.body.token);

  // Revoked: refused at once.
  const revoked = await call<{ revokedBy: string; revokedAt: string }>(admin, 'DELETE', `/v1/tokens/${made.body.tokenId}`);
  expect(revoked.body).toMatchObject({ revokedBy: 'root' });
  expect(await call<ErrorBody>(made.body.token, 'GET', '/v1/me')).toMatchObject({ status: 401, body: { error: { code: 'unauthorized' } } });
});

it('only admins manage tokens and the policy, and only their own organization', async () => {
  const organizationId = `org-${randomUUID()}`;
  const alice = await tokenFor(stack, organizationId, 'alice');
  const admin = await tokenFor(stack, organizationId, 'root', { roles: ['admin'] });
  const outsider = await tokenFor(stack, `org-${randomUUID()}`, 'eve', { roles: ['admin'] });
  for (const [method, path, body] of [
    ['POST', '/v1/tokens', { principalId: 'alice', roles: ['admin'] }],
    ['GET', '/v1/tokens', undefined],
    ['PUT', '/v1/policy', { required: 1 }],
  ] as const) {
    const refused = await call<ErrorBody>(alice, method, path, body);
    expect(refused).toMatchObject({
      status: 403,
      body: {
        error: { code: 'forbidden', message: expect.stringMatching(/^Only an admin may .+; alice \(person, approver\) may not\.$/) },
      },
    });
  }
  // alice could not make herself an admin.
  expect((await call(alice, 'GET', '/v1/me')).body).toMatchObject({ roles: ['approver'] });
  // Another organization's admin cannot reach this one's tokens.
  const tokens = await call<Array<{ tokenId: string }>>(admin, 'GET', '/v1/tokens');
  expect((await call<ErrorBody>(outsider, 'DELETE', `/v1/tokens/${tokens.body[0]!.tokenId}`)).status).toBe(404);
  expect((await call<ErrorBody>(outsider, 'GET', `/v1/tokens?organizationId=${organizationId}`)).status).toBe(403);
});

it('a token request with a bad kind, an unknown role or a changed kind is refused and changes nothing', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack, organizationId, 'root', { roles: ['admin'] });
  const cases: Array<[Record<string, unknown>, string]> = [
    [{ principalId: 'x', kind: 'robot' }, 'kind'],
    [{ principalId: 'x' }, 'say its kind'],
    [{ principalId: 'x', kind: 'person', roles: ['wizard'] }, 'Unknown role "wizard"'],
    [{ principalId: 'role:approver', kind: 'person' }, 'must not start with "role:"'],
    [{ principalId: 'root', kind: 'agent' }, "a principal's kind cannot change"],
  ];
  for (const [body, message] of cases) {
    const refused = await call<ErrorBody>(admin, 'POST', '/v1/tokens', body);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain(message);
  }
  expect((await call<unknown[]>(admin, 'GET', '/v1/tokens')).body).toHaveLength(1);
});

it('the policy: defaults until set, versioned changes with who and when, bad policies refused whole', async () => {
  const organizationId = `org-${randomUUID()}`;
  const admin = await tokenFor(stack, organizationId, 'root', { roles: ['admin'] });
  const alice = await tokenFor(stack, organizationId, 'alice');
  expect((await call(alice, 'GET', '/v1/policy')).body).toEqual({
    organizationId,
    version: 0,
    policy: {
      requireApprovalFor: ['cross-thread', 'external-calls'],
      roles: [],
      approvers: ['role:approver'],
      required: 1,
      skipApproval: [],
      expiresAfter: '7d',
      onExpiry: 'reject',
      rules: [],
    },
    updatedBy: null,
    updatedAt: null,
  });
  const set = await call<{ version: number; policy: Record<string, unknown>; updatedBy: string }>(admin, 'PUT', '/v1/policy', {
    roles: ['release-manager'],
    approvers: ['role:release-manager', 'carol'],
    required: 2,
  });
  expect(set).toMatchObject({
    status: 200,
    body: { version: 1, updatedBy: 'root', policy: { required: 2, expiresAfter: '7d', onExpiry: 'reject' } },
  });
  // The organization's own role is now one tokens may carry.
  expect((await call(admin, 'POST', '/v1/tokens', { principalId: 'rm', kind: 'person', roles: ['release-manager'] })).status).toBe(201);

  const bad: Array<[unknown, string]> = [
    [{ required: 0 }, 'required'],
    [{ expiresAfter: '-1h' }, 'expiresAfter'],
    [{ approvers: ['role:wizard'] }, 'role "wizard" is not a role of this organization'],
    [{ approvers: [] }, 'approvers'],
    [{ onExpiry: 'maybe' }, 'onExpiry'],
    [{ required: 1, colour: 'blue' }, 'colour'],
    [[1, 2], 'policy'],
  ];
  for (const [policy, message] of bad) {
    const refused = await call<ErrorBody>(admin, 'PUT', '/v1/policy', policy);
    expect(refused.status).toBe(400);
    expect(refused.body.error.message).toContain(message);
  }
  expect((await call(alice, 'GET', '/v1/policy')).body).toMatchObject({ version: 1, policy: { required: 2 } });
  await call(admin, 'PUT', '/v1/policy', { required: 1 });
  const history = await call<Array<{ version: number; changedBy: string; changedAt: string }>>(alice, 'GET', '/v1/policy/history');
  expect(history.body.map((change) => [change.version, change.changedBy])).toEqual([
    [2, 'root'],
    [1, 'root'],
  ]);
});
