import { ApprovalPolicySchema } from '../../domain/policy.js';
import {
  addressRefusal,
  classifyAddress,
  destinationOf,
  destinationRefusal,
  forbiddenHeaders,
  internalReason,
  parseAllowEntry,
  urlRefusal,
} from '../../domain/egress.js';
import { loadConfig } from '../../app/config.js';
import { validateDraft } from '../../domain/validate.js';

describe('classifyAddress', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['100.64.0.1', 'cgnat'],
    ['100.127.255.254', 'cgnat'],
    ['169.254.169.254', 'metadata'],
    ['169.254.1.1', 'link-local'],
    ['0.0.0.0', 'unspecified'],
    ['224.0.0.1', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['::1', 'loopback'],
    ['[::1]', 'loopback'],
    ['::', 'unspecified'],
    ['fd00::1', 'unique-local'],
    ['fc12:3456::1', 'unique-local'],
    ['fd00:ec2::254', 'metadata'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['[::ffff:169.254.169.254]', 'metadata'],
    ['::ffff:10.0.0.1', 'private'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:7f00:1::', 'loopback'],
    ['::127.0.0.1', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '169.255.0.1', '2606:4700:4700::1111', '::ffff:8.8.8.8', '2001:4860:4860::8888'])('%s is public', (address) => {
    expect(classifyAddress(address)).toBeNull();
  });

  it.each(['example.com', 'localhost', '1.2.3', '256.1.1.1', ':::1', '1::2::3', 'g::1', ''])('%s is no IP address', (text) => {
    expect(classifyAddress(text)).toBeUndefined();
  });
});

describe('allow entries', () => {
  it.each([
    ['example.com', { host: 'example.com', wildcard: false }],
    ['API.Example.com:8443', { host: 'api.example.com', wildcard: false, port: 8443 }],
    ['*.example.com', { host: 'example.com', wildcard: true }],
    ['*.example.com:443', { host: 'example.com', wildcard: true, port: 443 }],
    ['127.0.0.1:8080', { host: '127.0.0.1', wildcard: false, port: 8080 }],
    ['::1', { host: '[::1]', wildcard: false }],
    ['[::1]:9000', { host: '[::1]', wildcard: false, port: 9000 }],
    ['[FD00:0::1]', { host: '[fd00::1]', wildcard: false }],
  ])('%s parses', (text, entry) => {
    expect(parseAllowEntry(text)).toEqual(entry);
  });

  it.each(['', 'http://example.com', 'example.com/path', 'user@example.com', 'example.com:0', 'example.com:99999', '*.10.0.0.1', 'a.*.example.com', '*', 'exa mple.com', '-bad-.com'])(
    '%j is refused with a reason',
    (text) => {
      expect(typeof parseAllowEntry(text)).toBe('string');
    },
  );

  it('a policy names every bad entry; a good one is kept', () => {
    const bad = ApprovalPolicySchema.safeParse({ egress: { allow: ['ok.example.com', 'http://x', 'y/z'] } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((issue) => issue.message)).toEqual([expect.stringContaining('"http://x"'), expect.stringContaining('"y/z"')]);
    expect(ApprovalPolicySchema.parse({ egress: { allow: ['*.example.com'] } }).egress).toEqual({ allow: ['*.example.com'] });
    expect(ApprovalPolicySchema.parse({}).egress).toBeUndefined();
    expect(ApprovalPolicySchema.safeParse({ egress: { allow: [], deny: [] } }).success).toBe(false);
  });

  it('PLANS_EGRESS_ALLOW is read comma-separated, checked like a policy', () => {
    expect(loadConfig({ dataDir: '/tmp/x' }, { PLANS_EGRESS_ALLOW: '127.0.0.1, [::1]:8080' }).egressAllow).toEqual(['127.0.0.1', '[::1]:8080']);
    expect(loadConfig({ dataDir: '/tmp/x' }, {}).egressAllow).toEqual([]);
    expect(() => loadConfig({ dataDir: '/tmp/x' }, { PLANS_EGRESS_ALLOW: 'http://x' })).toThrow(/egressAllow/);
  });
});

describe('egress rules', () => {
  const to = (url: string) => destinationOf(url);

  it('without a policy list: any public host, no non-public address', () => {
    expect(urlRefusal('https://api.example.com/hook', {})).toBeNull();
    expect(urlRefusal('http://127.0.0.1:9/hook', {})).toMatch(/^127\.0\.0\.1, a loopback address; the organization's egress policy does not allow it \(policy egress\.allow\)$/);
    expect(urlRefusal('http://169.254.169.254/latest/meta-data', {})).toMatch(/a cloud metadata address/);
    expect(urlRefusal('http://[::1]/', {})).toMatch(/loopback/);
    expect(urlRefusal('http://[::ffff:127.0.0.1]/', {})).toMatch(/loopback/);
    // URL parsing makes these dotted decimal first: no spelling gets around the check.
    expect(urlRefusal('http://2130706433/', {})).toMatch(/^127\.0\.0\.1, a loopback/);
    expect(urlRefusal('http://0x7f.1/', {})).toMatch(/^127\.0\.0\.1, a loopback/);
    // A name is checked when it is resolved, at call time.
    expect(urlRefusal('http://localhost/', {})).toBeNull();
    expect(addressRefusal(to('http://localhost/'), '127.0.0.1', {})).toMatch(/^localhost, which resolves to 127\.0\.0\.1, a loopback address/);
    expect(addressRefusal(to('http://example.com/'), '93.184.216.34', {})).toBeNull();
  });

  it('with a policy list: only the hosts listed, by host, host:port or *.suffix', () => {
    const rules = { allow: ['hooks.example.com', 'api.example.org:8443', '*.corp.example'] };
    expect(urlRefusal('https://hooks.example.com/x', rules)).toBeNull();
    expect(urlRefusal('https://HOOKS.example.com./x', rules)).toBeNull();
    expect(urlRefusal('https://api.example.org:8443/x', rules)).toBeNull();
    expect(urlRefusal('https://api.example.org/x', rules)).toMatch(/^api\.example\.org:443, which the organization's egress policy does not list \(policy egress\.allow\)$/);
    expect(urlRefusal('https://a.b.corp.example/x', rules)).toBeNull();
    expect(urlRefusal('https://corp.example/x', rules)).not.toBeNull();
    expect(urlRefusal('https://evil.example.net/x', rules)).not.toBeNull();
    expect(destinationRefusal(to('https://notcorp.example/'), rules)).not.toBeNull();
  });

  it('a non-public address only when its host is listed exactly, by the organization or the operator', () => {
    expect(urlRefusal('http://127.0.0.1:8080/', { allow: ['127.0.0.1:8080'] })).toBeNull();
    expect(urlRefusal('http://127.0.0.1:8081/', { allow: ['127.0.0.1:8080'] })).toMatch(/does not list/);
    expect(urlRefusal('http://127.0.0.1:8081/', { allow: ['127.0.0.1'] })).toBeNull();
    expect(urlRefusal('http://[::1]:9000/', { allow: ['[::1]:9000'] })).toBeNull();
    expect(urlRefusal('http://127.0.0.1/', { operatorAllow: ['127.0.0.1'] })).toBeNull();
    // The operator's list grants, never widens an organization's own list.
    expect(urlRefusal('http://127.0.0.1/', { allow: ['example.com'], operatorAllow: ['127.0.0.1'] })).toMatch(/does not list/);
    // A wildcard lets a name through, never to a private address it resolves to.
    const wildcard = { allow: ['*.corp.example'] };
    expect(addressRefusal(to('http://db.corp.example/'), '10.0.0.5', wildcard)).toMatch(/resolves to 10\.0\.0\.5, a private address/);
    expect(addressRefusal(to('http://db.corp.example/'), '10.0.0.5', { allow: ['*.corp.example', 'db.corp.example'] })).toBeNull();
  });

  it('forbidden headers: hop-by-hop, Host, Cookie, Content-Length, proxy-*', () => {
    expect(forbiddenHeaders({ Host: 'x', Cookie: 'a', 'Proxy-Authorization': 'b', Connection: 'close', 'Transfer-Encoding': 'chunked', 'X-Team': 'ok', Authorization: 'ok' })).toEqual([
      'Host',
      'Cookie',
      'Proxy-Authorization',
      'Connection',
      'Transfer-Encoding',
    ]);
    const result = validateDraft({
      title: 'T',
      objective: 'O',
      nodes: [{ id: 'call', title: 'Call', executor: { type: 'system', action: 'webhook', url: 'https://example.com', headers: { Host: 'internal', 'X-Ok': '1' } } }],
    });
    expect(result).toEqual({ ok: false, issues: [{ code: 'forbidden-header', nodeId: 'call', message: expect.stringContaining('"Host"') }] });
  });

  it('the review flags calls inside the organization’s network', () => {
    expect(internalReason('http://10.0.0.5/x')).toBe('10.0.0.5 is a private address');
    expect(internalReason('http://[fd00::1]/x')).toBe('[fd00::1] is a unique-local (private) address');
    expect(internalReason('http://localhost:3000/')).toBe('localhost is a local name');
    expect(internalReason('http://billing.internal/')).toBe('billing.internal is a local name');
    expect(internalReason('https://example.com/')).toBeNull();
  });
});
