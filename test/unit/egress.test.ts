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
    // Cloud metadata services besides AWS's/GCP's: Azure's WireServer, Alibaba Cloud's (inside CGNAT).
    ['168.63.129.16', 'metadata'],
    ['100.100.100.200', 'metadata'],
    ['::ffff:168.63.129.16', 'metadata'],
    // SIIT (IPv4-translated, ::ffff:0:0:0/96) carries an IPv4 address in its last 32 bits.
    ['::ffff:0:7f00:1', 'loopback'],
    ['::ffff:0:a9fe:a9fe', 'metadata'],
    ['::ffff:0:a00:1', 'private'],
    // Local-use NAT64 (64:ff9b:1::/48): the IPv4 address at the /96 position…
    ['64:ff9b:1::7f00:1', 'loopback'],
    ['64:ff9b:1::a9fe:a9fe', 'metadata'],
    // …and at the /48, /56 and /64 positions (RFC 6052: byte 8 stays zero).
    ['64:ff9b:1:7f00:1::', 'loopback'],
    ['64:ff9b:1:a9fe:a9:fe00::', 'metadata'],
    ['64:ff9b:1:7f:0:1::', 'loopback'],
    ['64:ff9b:1:0:a:0:500:0', 'private'],
    ['64:ff9b:1::', 'unspecified'],
    // Teredo tunnels to an IPv4 address through a relay: refused whatever it carries.
    ['2001:0:4136:e378:8000:63bf:3fff:fdd2', 'reserved'],
    ['2001::1', 'reserved'],
  ])('%s is %s', (address, kind) => {
    expect(classifyAddress(address)).toBe(kind);
  });

  it.each([
    '8.8.8.8',
    '1.1.1.1',
    '172.32.0.1',
    '100.128.0.1',
    '169.255.0.1',
    '2606:4700:4700::1111',
    '::ffff:8.8.8.8',
    '2001:4860:4860::8888',
    '::ffff:0:808:808',
    '64:ff9b::808:808',
    '64:ff9b:1::808:808',
    '168.63.129.17',
  ])('%s is public', (address) => {
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

  it.each([
    '',
    'http://example.com',
    'example.com/path',
    'user@example.com',
    'example.com:0',
    'example.com:99999',
    '*.10.0.0.1',
    'a.*.example.com',
    '*',
    'exa mple.com',
    '-bad-.com',
  ])('%j is refused with a reason', (text) => {
    expect(typeof parseAllowEntry(text)).toBe('string');
  });

  it('a policy names every bad entry; a good one is kept', () => {
    const bad = ApprovalPolicySchema.safeParse({ egress: { allow: ['ok.example.com', 'http://x', 'y/z'] } });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((issue) => issue.message)).toEqual([
      expect.stringContaining('"http://x"'),
      expect.stringContaining('"y/z"'),
    ]);
    expect(ApprovalPolicySchema.parse({ egress: { allow: ['*.example.com'] } }).egress).toEqual({ allow: ['*.example.com'] });
    expect(ApprovalPolicySchema.parse({}).egress).toBeUndefined();
    expect(ApprovalPolicySchema.safeParse({ egress: { allow: [], deny: [] } }).success).toBe(false);
  });

  it('PLANS_EGRESS_ALLOW is read comma-separated, checked like a policy', () => {
    expect(loadConfig({ dataDir: '/tmp/x' }, { PLANS_EGRESS_ALLOW: '127.0.0.1, [::1]:8080' }).egressAllow).toEqual([
      '127.0.0.1',
      '[::1]:8080',
    ]);
    expect(loadConfig({ dataDir: '/tmp/x' }, {}).egressAllow).toEqual([]);
    expect(() => loadConfig({ dataDir: '/tmp/x' }, { PLANS_EGRESS_ALLOW: 'http://x' })).toThrow(/egressAllow/);
  });
});

describe('egress rules', () => {
  const to = (url: string) => destinationOf(url);

  it('without a policy list: any public host, no non-public address', () => {
    expect(urlRefusal('https://api.example.com/hook', {})).toBeNull();
    expect(urlRefusal('http://127.0.0.1:9/hook', {})).toMatch(
      /^127\.0\.0\.1, a loopback address; the organization's egress policy does not allow it \(policy egress\.allow\)$/,
    );
    expect(urlRefusal('http://169.254.169.254/latest/meta-data', {})).toMatch(/a cloud metadata address/);
    expect(urlRefusal('http://[::1]/', {})).toMatch(/loopback/);
    expect(urlRefusal('http://[::ffff:127.0.0.1]/', {})).toMatch(/loopback/);
    // URL parsing makes these dotted decimal first: no spelling gets around the check.
    expect(urlRefusal('http://2130706433/', {})).toMatch(/^127\.0\.0\.1, a loopback/);
    expect(urlRefusal('http://0x7f.1/', {})).toMatch(/^127\.0\.0\.1, a loopback/);
    // A name is checked when it is resolved, at call time.
    expect(urlRefusal('http://localhost/', {})).toBeNull();
    expect(addressRefusal(to('http://localhost/'), '127.0.0.1', {})).toMatch(
      /^localhost, which resolves to 127\.0\.0\.1, a loopback address/,
    );
    expect(addressRefusal(to('http://example.com/'), '93.184.216.34', {})).toBeNull();
  });

  it('with a policy list: only the hosts listed, by host, host:port or *.suffix', () => {
    const rules = { allow: ['hooks.example.com', 'api.example.org:8443', '*.corp.example'] };
    expect(urlRefusal('https://hooks.example.com/x', rules)).toBeNull();
    expect(urlRefusal('https://HOOKS.example.com./x', rules)).toBeNull();
    expect(urlRefusal('https://api.example.org:8443/x', rules)).toBeNull();
    expect(urlRefusal('https://api.example.org/x', rules)).toMatch(
      /^api\.example\.org:443, which the organization's egress policy does not list \(policy egress\.allow\)$/,
    );
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

  it('a cloud metadata address only when the operator lists the address itself: never an organization, never through a name', () => {
    const partner = to('https://hooks.partner.com/');
    // The organization listed a name; the name now resolves to the metadata service (rebinding).
    for (const address of ['169.254.169.254', 'fd00:ec2::254', '168.63.129.16', '100.100.100.200', '::ffff:169.254.169.254']) {
      expect([address, addressRefusal(partner, address, { allow: ['hooks.partner.com'] })]).toEqual([
        address,
        expect.stringMatching(
          /a cloud metadata address; only the operator may allow a cloud metadata address, by listing the address itself \(PLANS_EGRESS_ALLOW\)$/,
        ),
      ]);
      expect(addressRefusal(partner, address, { allow: ['hooks.partner.com:443'] })).not.toBeNull();
      // The operator listing the name is not listing the address.
      expect(addressRefusal(partner, address, { operatorAllow: ['hooks.partner.com'] })).not.toBeNull();
    }
    // An organization listing the address itself reaches nothing more: the operator's credentials are not its to allow.
    expect(urlRefusal('http://169.254.169.254/latest/meta-data/', { allow: ['169.254.169.254'] })).toMatch(/only the operator may allow/);
    expect(urlRefusal('http://[fd00:ec2::254]/', { allow: ['[fd00:ec2::254]'] })).toMatch(/only the operator may allow/);
    expect(urlRefusal('http://168.63.129.16/', { allow: ['168.63.129.16:80'] })).toMatch(/only the operator may allow/);
    // The operator may, by the address.
    expect(urlRefusal('http://169.254.169.254/latest/meta-data/', { operatorAllow: ['169.254.169.254'] })).toBeNull();
    expect(urlRefusal('http://[fd00:ec2::254]/', { operatorAllow: ['fd00:ec2::254'] })).toBeNull();
    expect(addressRefusal(partner, '169.254.169.254', { operatorAllow: ['169.254.169.254'] })).toBeNull();
    expect(addressRefusal(partner, '169.254.169.254', { operatorAllow: ['169.254.169.254:80'] })).not.toBeNull();
  });

  it('a link-local address only when the address itself is listed, not through a name', () => {
    const partner = to('https://hooks.partner.com/');
    expect(addressRefusal(partner, '169.254.10.1', { allow: ['hooks.partner.com'] })).toMatch(
      /^hooks\.partner\.com, which resolves to 169\.254\.10\.1, a link-local address; a link-local address is reachable only when the egress policy lists the address itself \(policy egress\.allow\)$/,
    );
    expect(addressRefusal(partner, 'fe80::1', { allow: ['hooks.partner.com'], operatorAllow: ['hooks.partner.com'] })).toMatch(
      /link-local/,
    );
    expect(urlRefusal('http://169.254.10.1/', { allow: ['169.254.10.1'] })).toBeNull();
    expect(urlRefusal('http://[fe80::1]:8080/', { allow: ['[fe80::1]:8080'] })).toBeNull();
    expect(urlRefusal('http://169.254.10.1/', { operatorAllow: ['169.254.10.1'] })).toBeNull();
    expect(addressRefusal(partner, '169.254.10.1', { allow: ['hooks.partner.com', '169.254.10.1'] })).toBeNull();
    // Private and loopback addresses stay the organization's to allow, by name or address.
    expect(addressRefusal(partner, '10.0.0.5', { allow: ['hooks.partner.com'] })).toBeNull();
    expect(addressRefusal(to('http://localhost:8080/'), '127.0.0.1', { allow: ['localhost'] })).toBeNull();
  });

  it('a refusal for a secret URL names the secret, never the host or the address', () => {
    const shown = '{"$secret":"chat-hook"}';
    const refusals = [
      addressRefusal(to('https://hooks.internal.example/'), '10.0.0.5', {}, shown),
      urlRefusal('http://10.0.0.5:8080/x', {}, shown),
      urlRefusal('https://hooks.internal.example/x', { allow: ['other.example'] }, shown),
      addressRefusal(to('https://hooks.internal.example/'), '169.254.169.254', { allow: ['hooks.internal.example'] }, shown),
    ];
    expect(refusals).toEqual([
      `${shown}, which resolves to a private address; the organization's egress policy does not allow it (policy egress.allow)`,
      `${shown}, which resolves to a private address; the organization's egress policy does not allow it (policy egress.allow)`,
      `${shown}, which the organization's egress policy does not list (policy egress.allow)`,
      expect.stringMatching(/^\{"\$secret":"chat-hook"\}, which resolves to a cloud metadata address; only the operator/),
    ]);
    expect(JSON.stringify(refusals)).not.toMatch(/10\.0\.0\.5|internal\.example|169\.254/);
  });

  it('forbidden headers: hop-by-hop, Host, Cookie, Content-Length, proxy-*', () => {
    expect(
      forbiddenHeaders({
        Host: 'x',
        Cookie: 'a',
        'Proxy-Authorization': 'b',
        Connection: 'close',
        'Transfer-Encoding': 'chunked',
        'X-Team': 'ok',
        Authorization: 'ok',
      }),
    ).toEqual(['Host', 'Cookie', 'Proxy-Authorization', 'Connection', 'Transfer-Encoding']);
    const result = validateDraft({
      title: 'T',
      objective: 'O',
      nodes: [
        {
          id: 'call',
          title: 'Call',
          executor: { type: 'system', action: 'webhook', url: 'https://example.com', headers: { Host: 'internal', 'X-Ok': '1' } },
        },
      ],
    });
    expect(result).toEqual({
      ok: false,
      issues: [{ code: 'forbidden-header', nodeId: 'call', message: expect.stringContaining('"Host"') }],
    });
  });

  it('the review flags calls inside the organization’s network', () => {
    expect(internalReason('http://10.0.0.5/x')).toBe('10.0.0.5 is a private address');
    expect(internalReason('http://[fd00::1]/x')).toBe('[fd00::1] is a unique-local (private) address');
    expect(internalReason('http://localhost:3000/')).toBe('localhost is a local name');
    expect(internalReason('http://billing.internal/')).toBe('billing.internal is a local name');
    expect(internalReason('https://example.com/')).toBeNull();
  });
});
