import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';

import { ensureSecretKeyFile, open, parseSecretKey, seal, secretKeyFile } from '../../auth/secret-box.js';
import { MASK, maskValues, revealingParts } from '../../domain/masking.js';
import { type Webhook, resolveWebhook, secretNamesOf } from '../../domain/secret-refs.js';
import { SecretValueSchema, secretsOffHost, unboundSecretsOf } from '../../domain/secrets.js';
import { validateDraft } from '../../domain/validate.js';
import { tempDir } from '../support/stack.js';

const key = randomBytes(32);

describe('sealing a secret', () => {
  it('opens with the same key, organization and name, and the ciphertext differs each time', () => {
    const sealed = seal(key, 'org-1', 'crm-token', 'Bearer s3cret');
    expect(sealed).not.toContain('s3cret');
    expect(seal(key, 'org-1', 'crm-token', 'Bearer s3cret')).not.toBe(sealed);
    expect(open(key, 'org-1', 'crm-token', sealed)).toBe('Bearer s3cret');
  });

  it('does not open with another key, under another organization or name, or altered', () => {
    const sealed = seal(key, 'org-1', 'crm-token', 'Bearer s3cret');
    expect(() => open(randomBytes(32), 'org-1', 'crm-token', sealed)).toThrow();
    expect(() => open(key, 'org-2', 'crm-token', sealed)).toThrow();
    expect(() => open(key, 'org-1', 'other', sealed)).toThrow();
    const [format, iv, tag, ciphertext] = sealed.split('.');
    const flipped = Buffer.from(ciphertext!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    expect(() => open(key, 'org-1', 'crm-token', [format, iv, tag, flipped.toString('base64url')].join('.'))).toThrow();
    expect(() => open(key, 'org-1', 'crm-token', 'not sealed')).toThrow('Not a sealed secret.');
  });

  it('takes PLANS_SECRET_KEY as base64 of 32 bytes only, else makes the data dir key once, readable by its owner only', () => {
    expect(parseSecretKey(key.toString('base64')).equals(key)).toBe(true);
    expect(() => parseSecretKey(randomBytes(16).toString('base64'))).toThrow(/base64 of 32 bytes/);
    const dir = tempDir();
    const made = ensureSecretKeyFile(dir);
    expect(ensureSecretKeyFile(dir).equals(made)).toBe(true);
    expect(statSync(secretKeyFile(dir)).mode & 0o777).toBe(0o600);
  });
});

describe('secret references in a draft', () => {
  const draftWith = (executor: Record<string, unknown>) => ({
    title: 'T',
    objective: 'O',
    nodes: [{ id: 'call', title: 'Call', executor: { type: 'system', action: 'webhook', ...executor } }],
  });

  it('a header value or the whole url may name a secret; the name is a slug', () => {
    const result = validateDraft(
      draftWith({ url: { $secret: 'chat-hook' }, headers: { Authorization: { $secret: 'crm-token' }, 'X-Team': 'sales' } }),
    );
    expect(result.ok).toBe(true);
    const executor = result.ok ? result.plan.nodes[0]!.executor : undefined;
    expect(secretNamesOf(executor!)).toEqual(['chat-hook', 'crm-token']);
    const values = new Map([
      ['chat-hook', 'https://hooks.example.com/T0/B0/x'],
      ['crm-token', 'Bearer v'],
    ]);
    expect(resolveWebhook(executor as never, values)).toEqual({
      url: 'https://hooks.example.com/T0/B0/x',
      headers: { Authorization: 'Bearer v', 'X-Team': 'sales' },
    });
    expect(validateDraft(draftWith({ url: { $secret: 'Not A Slug' } })).ok).toBe(false);
    expect(validateDraft(draftWith({ url: 'https://a.example.com', headers: { A: { $secret: 'x', extra: 1 } } })).ok).toBe(false);
  });

  it('refuses each literal credential by where it is, pointing to secrets', () => {
    const result = validateDraft(
      draftWith({
        url: 'https://u:p@a.example.com/x?api_key=1&team=2',
        headers: { Authorization: 'Bearer x', 'X-Api-Key': 'c', 'X-Team': 't' },
      }),
    );
    expect(result.ok).toBe(false);
    const issues = result.ok ? [] : result.issues;
    expect(issues.map((issue) => [issue.code, issue.nodeId])).toEqual(Array.from({ length: 4 }, () => ['literal-credential', 'call']));
    expect(issues.map((issue) => issue.message)).toEqual([
      'Node "call" sends a literal credential in header "Authorization"; store it as a secret (plans secret set NAME) and write {"$secret": "NAME"}.',
      'Node "call" sends a literal credential in header "X-Api-Key"; store it as a secret (plans secret set NAME) and write {"$secret": "NAME"}.',
      'Node "call" sends a literal credential in the URL\'s user info; store it as a secret (plans secret set NAME) and write {"$secret": "NAME"} as the whole url.',
      'Node "call" sends a literal credential in the URL\'s query parameter "api_key"; store it as a secret (plans secret set NAME) and write {"$secret": "NAME"} as the whole url.',
    ]);
    expect(JSON.stringify(issues)).not.toMatch(/Bearer x|u:p/);
    // A Cookie is the connection's, secret or not: refused as such, once.
    const cookie = validateDraft(draftWith({ url: 'https://a.example.com', headers: { Cookie: 'c' } }));
    expect(cookie.ok ? [] : cookie.issues.map((issue) => issue.code)).toEqual(['forbidden-header']);
  });
});

describe("a secret's hosts", () => {
  const webhook = (url: Webhook['url'], headers: Webhook['headers']): Webhook => ({
    type: 'system',
    action: 'webhook',
    url,
    ...(headers ? { headers } : {}),
  });
  const hosts: Record<string, string[]> = { crm: ['api.crm.com', '*.crm.net:8443'], anywhere: [], 'chat-hook': ['only.example'] };
  const hostsOf = (name: string) => hosts[name];

  it('a header secret goes only to a destination its hosts take in, read as the egress allow list reads them', () => {
    const sends = (url: string) =>
      secretsOffHost(webhook(url, { 'X-K': { $secret: 'crm' }, 'X-Any': { $secret: 'anywhere' } }), url, hostsOf);
    expect(sends('https://api.crm.com/v1/deals')).toEqual([]);
    expect(sends('https://API.crm.com./v1')).toEqual([]);
    expect(sends('https://eu.crm.net:8443/x')).toEqual([]);
    expect(sends('https://attacker.tld/')).toEqual(['crm']);
    expect(sends('https://api.crm.com.attacker.tld/')).toEqual(['crm']);
    expect(sends('https://crm.net:8443/')).toEqual(['crm']);
    expect(sends('https://eu.crm.net/')).toEqual(['crm']);
    expect(sends('https://attacker.tld/?host=api.crm.com')).toEqual(['crm']);
  });

  it('a secret URL is its own destination: its hosts are not read; the header secrets are checked against where it resolves to', () => {
    const executor = webhook({ $secret: 'chat-hook' }, { 'X-K': { $secret: 'crm' } });
    expect(secretsOffHost(webhook({ $secret: 'chat-hook' }, undefined), 'https://hooks.chat.example/T/B', hostsOf)).toEqual([]);
    expect(secretsOffHost(executor, 'https://api.crm.com/hook', hostsOf)).toEqual([]);
    expect(secretsOffHost(executor, 'https://hooks.chat.example/T/B', hostsOf)).toEqual(['crm']);
  });

  it('a header secret bound to no host is unbound (its plan waits for approval); a secret URL is not', () => {
    expect(unboundSecretsOf(webhook('https://a.example', { A: { $secret: 'anywhere' }, B: { $secret: 'crm' } }), hostsOf)).toEqual([
      'anywhere',
    ]);
    expect(unboundSecretsOf(webhook({ $secret: 'anywhere' }, { B: { $secret: 'crm' } }), hostsOf)).toEqual([]);
  });

  it('hosts are an egress allow list: at least one, each parsed, or none at all', () => {
    expect(SecretValueSchema.parse({ value: 'v', hosts: ['api.crm.com', '*.crm.net:8443', '10.0.0.5'] }).hosts).toHaveLength(3);
    expect(SecretValueSchema.parse({ value: 'v' }).hosts).toBeUndefined();
    for (const hosts of [[], ['https://api.crm.com'], ['api.crm.com/x'], ['*'], ['a.*.com']])
      expect([hosts, SecretValueSchema.safeParse({ value: 'v', hosts }).success]).toEqual([hosts, false]);
  });
});

describe('masking values in an answer', () => {
  it('masks each value as is, JSON-escaped and URL-encoded, and an Authorization value’s credential alone', () => {
    const values = ['Bearer s3cr3t-token', 'k"e\\y/1', 'a b&c=d'];
    const answer = `{"auth":"Bearer s3cr3t-token","token":"s3cr3t-token","key":"k\\"e\\\\y/1","q":"a%20b%26c%3Dd"}`;
    expect(maskValues(answer, values)).toBe(`{"auth":"${MASK}","token":"${MASK}","key":"${MASK}","q":"${MASK}"}`);
  });

  it('leaves values shorter than 4 characters alone: they would mask common words', () => {
    expect(maskValues('abc is not abcd', ['abc', 'abcd'])).toBe(`abc is not ${MASK}`);
  });

  it('what tells a secret URL apart: host, path, user info, query values', () => {
    expect(revealingParts('https://bot:pw12@hooks.chat.example:8443/T0/B0/x?sig=abc1&team=sales')).toEqual([
      'hooks.chat.example:8443',
      'hooks.chat.example',
      '/T0/B0/x',
      'bot',
      'pw12',
      'abc1',
      'sales',
    ]);
    expect(revealingParts('https://hooks.chat.example/')).toEqual(['hooks.chat.example', 'hooks.chat.example']);
    expect(revealingParts('not a url')).toEqual([]);
  });
});
