import { z } from 'zod';

import type { ValidationIssue } from './errors.js';
import type { CompiledPlan } from './plan.js';
import { isWebhook } from './webhook.js';

/*
 * Where the system may call out to (webhook steps, subscription deliveries): the organization's
 * `egress.allow` and the operator's `PLANS_EGRESS_ALLOW`, read against a destination's host, port
 * and the addresses it resolves to. Pure, so the draft check, the subscription check and the
 * call-time check (activities/egress.ts) read one definition of each rule.
 */

/** Why an address is not public: what a refusal names. */
export type AddressKind =
  'loopback' | 'private' | 'link-local' | 'cgnat' | 'metadata' | 'unique-local' | 'unspecified' | 'multicast' | 'reserved';

const KIND_WORDS: Record<AddressKind, string> = {
  loopback: 'a loopback address',
  private: 'a private address',
  'link-local': 'a link-local address',
  cgnat: 'a carrier-grade NAT address',
  metadata: 'a cloud metadata address',
  'unique-local': 'a unique-local (private) address',
  unspecified: 'an unspecified address',
  multicast: 'a multicast address',
  reserved: 'a reserved address',
};

/** A CIDR range as bytes: the first `bits` bits of `prefix` must match. */
interface Range {
  prefix: number[];
  bits: number;
  kind: AddressKind;
}

const v4 = (cidr: string, kind: AddressKind): Range => {
  const [address, bits] = cidr.split('/');
  return { prefix: address!.split('.').map(Number), bits: Number(bits), kind };
};
const v6 = (cidr: string, kind: AddressKind): Range => {
  const [address, bits] = cidr.split('/');
  return { prefix: ipv6Bytes(address!)!, bits: Number(bits), kind };
};

// Narrower ranges first: the metadata addresses sit inside link-local and CGNAT.
const IPV4_RANGES: Range[] = [
  v4('169.254.169.254/32', 'metadata'),
  // Azure's WireServer, Alibaba Cloud's metadata service.
  v4('168.63.129.16/32', 'metadata'),
  v4('100.100.100.200/32', 'metadata'),
  v4('0.0.0.0/8', 'unspecified'),
  v4('127.0.0.0/8', 'loopback'),
  v4('10.0.0.0/8', 'private'),
  v4('172.16.0.0/12', 'private'),
  v4('192.168.0.0/16', 'private'),
  v4('100.64.0.0/10', 'cgnat'),
  v4('169.254.0.0/16', 'link-local'),
  v4('192.0.0.0/24', 'reserved'),
  v4('192.0.2.0/24', 'reserved'),
  v4('198.18.0.0/15', 'reserved'),
  v4('198.51.100.0/24', 'reserved'),
  v4('203.0.113.0/24', 'reserved'),
  v4('224.0.0.0/4', 'multicast'),
  v4('240.0.0.0/4', 'reserved'),
];

const IPV6_RANGES: Range[] = [
  v6('::/128', 'unspecified'),
  v6('::1/128', 'loopback'),
  v6('fd00:ec2::254/128', 'metadata'),
  v6('fc00::/7', 'unique-local'),
  v6('fe80::/10', 'link-local'),
  v6('fec0::/10', 'private'),
  v6('ff00::/8', 'multicast'),
  v6('100::/64', 'reserved'),
  v6('2001:db8::/32', 'reserved'),
  // Teredo: tunnels to an IPv4 address through a relay; no call out needs it.
  v6('2001::/32', 'reserved'),
  // IPv4-compatible (deprecated): no public address is written this way.
  v6('::/96', 'reserved'),
];

// No node:net here: the domain is pure and parts of it are bundled into workflows.

/** The 4 bytes of a dotted-decimal IPv4 address; undefined when it is not one. */
function ipv4Bytes(text: string): number[] | undefined {
  const match = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(text);
  const bytes = match?.slice(1).map(Number);
  return bytes && bytes.every((byte) => byte <= 255) ? bytes : undefined;
}

/** The 16 bytes of an IPv6 address (brackets, a zone and a trailing dotted quad allowed); undefined when it is not one. */
function ipv6Bytes(text: string): number[] | undefined {
  let address = text
    .replace(/^\[|\]$/g, '')
    .replace(/%.*$/, '')
    .toLowerCase();
  if (!/^[0-9a-f:.]+$/.test(address) || !address.includes(':')) return undefined;
  const quad = /:(\d+\.\d+\.\d+\.\d+)$/.exec(address);
  if (quad) {
    const carried = ipv4Bytes(quad[1]!);
    if (!carried) return undefined;
    const [a, b, c, d] = carried as [number, number, number, number];
    address = `${address.slice(0, quad.index + 1)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  if (address.includes('.')) return undefined;
  const halves = address.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string) => (part ? part.split(':') : []);
  const left = groups(halves[0]!);
  const right = halves.length === 2 ? groups(halves[1]!) : [];
  const missing = 8 - left.length - right.length;
  if (halves.length === 2 ? missing < 1 : missing !== 0) return undefined;
  const hextets = [...left, ...Array<string>(halves.length === 2 ? missing : 0).fill('0'), ...right];
  if (!hextets.every((hextet) => /^[0-9a-f]{1,4}$/.test(hextet))) return undefined;
  return hextets.flatMap((hextet) => {
    const value = parseInt(hextet, 16);
    return [value >> 8, value & 0xff];
  });
}

function inRange(bytes: readonly number[], range: Range): boolean {
  for (let bit = 0; bit < range.bits; bit += 8) {
    const take = Math.min(8, range.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (range.prefix[bit / 8]! & mask)) return false;
  }
  return true;
}

const classifyBytes = (bytes: readonly number[], ranges: readonly Range[]) => ranges.find((range) => inRange(bytes, range))?.kind ?? null;

/** Where RFC 6052 puts the IPv4 address in an IPv6 prefix of each length from 48 bits up (byte 8 is always zero). */
const NAT64_POSITIONS: readonly (readonly number[])[] = [
  [6, 7, 9, 10],
  [7, 9, 10, 11],
  [9, 10, 11, 12],
  [12, 13, 14, 15],
];

/**
 * The IPv4 addresses an IPv6 address may carry and be routed to: IPv4-mapped (::ffff:0:0/96),
 * IPv4-translated (SIIT, ::ffff:0:0:0/96), well-known NAT64 (64:ff9b::/96), 6to4 (2002::/16), and
 * local-use NAT64 (64:ff9b:1::/48), whose operator picks the prefix length: every position it
 * may be at, each checked.
 */
function embeddedIpv4s(bytes: readonly number[]): number[][] {
  const zeros = (from: number, to: number) => bytes.slice(from, to).every((byte) => byte === 0);
  if (zeros(0, 10) && bytes[10] === 0xff && bytes[11] === 0xff) return [bytes.slice(12)];
  if (zeros(0, 8) && bytes[8] === 0xff && bytes[9] === 0xff && zeros(10, 12)) return [bytes.slice(12)];
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && zeros(4, 12)) return [bytes.slice(12)];
  if (bytes[0] === 0x00 && bytes[1] === 0x64 && bytes[2] === 0xff && bytes[3] === 0x9b && bytes[4] === 0x00 && bytes[5] === 0x01) {
    return NAT64_POSITIONS.map((positions) => positions.map((position) => bytes[position]!));
  }
  if (bytes[0] === 0x20 && bytes[1] === 0x02) return [bytes.slice(2, 6)];
  return [];
}

/**
 * What kind of non-public address `address` is (IPv4, IPv6 with or without brackets, IPv4-mapped
 * and the other IPv6 forms that carry an IPv4 address), or null for a public one. Not an IP
 * address at all: undefined.
 */
export function classifyAddress(address: string): AddressKind | null | undefined {
  const bare = address.replace(/^\[|\]$/g, '');
  const ipv4 = ipv4Bytes(bare);
  if (ipv4) return classifyBytes(ipv4, IPV4_RANGES);
  const bytes = ipv6Bytes(bare);
  if (!bytes) return undefined;
  const carried = embeddedIpv4s(bytes);
  if (carried.length > 0) {
    // Non-public when any address it may carry is. Where several positions are possible, the ones
    // not in use are mostly zeros (0.0.0.0/8), which no translator reaches: those are left out.
    const kinds = carried.map((ipv4) => classifyBytes(ipv4, IPV4_RANGES));
    const possible = kinds.length > 1 ? kinds.filter((kind) => kind !== 'unspecified') : kinds;
    return possible.length === 0 ? 'unspecified' : (possible.find((kind) => kind !== null) ?? null);
  }
  return classifyBytes(bytes, IPV6_RANGES);
}

/** An address kind as a refusal says it: "a loopback address". */
export function describeKind(kind: AddressKind): string {
  return KIND_WORDS[kind];
}

/** One entry of an allow list: an exact host (IP literals canonical, IPv6 in brackets) or a `*.` suffix, with or without a port. */
export interface AllowEntry {
  host: string;
  wildcard: boolean;
  port?: number;
}

const LABEL = /^[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?$/;

/** Parses an allow-list entry (`host`, `host:port`, `*.suffix`, `*.suffix:port`, `1.2.3.4`, `::1`, `[::1]:8080`), or answers what is wrong with it. */
export function parseAllowEntry(text: string): AllowEntry | string {
  const entry = text.trim().toLowerCase();
  if (!entry) return 'is empty';
  if (/[/?#@\s]/.test(entry) || entry.includes('://')) return `"${text}" is not host, host:port or *.suffix (no scheme, path or user)`;
  // A bare IPv6 address has colons of its own: only a bracketed one may carry a port.
  if (ipv6Bytes(entry) && !entry.startsWith('['))
    return { host: `[${canonicalHost(`[${entry}]`)!.replace(/^\[|\]$/g, '')}]`, wildcard: false };
  const wildcard = entry.startsWith('*.');
  const rest = wildcard ? entry.slice(2) : entry;
  const match = /^(\[[^\]]+\]|[^:[\]]+)(?::(\d{1,5}))?$/.exec(rest);
  if (!match) return `"${text}" is not host, host:port or *.suffix`;
  const port = match[2] === undefined ? undefined : Number(match[2]);
  if (port !== undefined && (port < 1 || port > 65535)) return `"${text}" has a port outside 1-65535`;
  const host = canonicalHost(match[1]!);
  if (!host) return `"${text}" is not a valid host`;
  const literal = classifyAddress(host) !== undefined;
  if (wildcard && literal) return `"${text}" puts a wildcard before an IP address`;
  if (
    !literal &&
    !host
      .replace(/\.$/, '')
      .split('.')
      .every((label) => LABEL.test(label))
  )
    return `"${text}" is not a valid host name`;
  if (match[1]!.includes('*')) return `"${text}" may have a wildcard only as its first label ("*.example.com")`;
  return { host, wildcard, ...(port !== undefined ? { port } : {}) };
}

/** A host as URLs write it: lower case, IPv4 in dotted decimal, IPv6 compressed in brackets, no trailing dot. Undefined when not a host. */
export function canonicalHost(host: string): string | undefined {
  try {
    const { hostname } = new URL(`http://${host}/`);
    return hostname.replace(/\.$/, '') || undefined;
  } catch {
    return undefined;
  }
}

/** An allow list's problems, one per bad entry (empty: every entry parses). */
export function allowListProblems(entries: readonly string[]): string[] {
  return entries.flatMap((entry) => {
    const parsed = parseAllowEntry(entry);
    return typeof parsed === 'string' ? [parsed] : [];
  });
}

/** A policy's `egress.allow`: each entry checked, every bad one named. */
export const EgressAllowSchema = z
  .array(z.string().max(300))
  .max(200)
  .superRefine((entries, context) => {
    for (const problem of allowListProblems(entries)) context.addIssue({ code: 'custom', message: problem });
  });

/** Where a call goes, as the rules read it. */
export interface Destination {
  /** Canonical (`canonicalHost`). */
  host: string;
  port: number;
}

/** A URL's destination: its canonical host and its port (the scheme's default when it names none). */
export function destinationOf(url: URL | string): Destination {
  const parsed = typeof url === 'string' ? new URL(url) : url;
  return { host: parsed.hostname.replace(/\.$/, ''), port: parsed.port ? Number(parsed.port) : parsed.protocol === 'https:' ? 443 : 80 };
}

/** What decides where an organization's calls may go: its policy's list (none: any public host) and the operator's. */
export interface EgressRules {
  /** The organization's `egress.allow`; absent: any public destination, nothing else. */
  allow?: readonly string[] | undefined;
  /** The operator's `PLANS_EGRESS_ALLOW`: hosts every organization may reach even at a non-public address. */
  operatorAllow?: readonly string[] | undefined;
}

function matches(entry: AllowEntry, destination: Destination, exactOnly: boolean): boolean {
  if (entry.port !== undefined && entry.port !== destination.port) return false;
  if (entry.wildcard) return !exactOnly && destination.host.endsWith(`.${entry.host}`);
  return entry.host === destination.host;
}

function listed(entries: readonly string[] | undefined, destination: Destination, exactOnly: boolean): boolean {
  return (entries ?? []).some((text) => {
    const entry = parseAllowEntry(text);
    return typeof entry !== 'string' && matches(entry, destination, exactOnly);
  });
}

/**
 * Whether a list of allow entries (a policy's `egress.allow`, a secret's hosts) takes in
 * `destination`: an exact host, a `*.` suffix, with the port when the entry names one.
 */
export function listsDestination(entries: readonly string[], destination: Destination): boolean {
  return listed(entries, destination, false);
}

const POLICY_SAYS = "the organization's egress policy does not allow it (policy egress.allow)";
const ONLY_OPERATOR = 'only the operator may allow a cloud metadata address, by listing the address itself (PLANS_EGRESS_ALLOW)';
const ONLY_LITERAL = 'a link-local address is reachable only when the egress policy lists the address itself (policy egress.allow)';

/**
 * Why `destination` may not be called whatever it resolves to (an `allow` list that leaves it
 * out), or null. `shown` names the destination in the message instead of its host (a secret
 * URL, whose host is part of the secret).
 */
export function destinationRefusal(destination: Destination, rules: EgressRules, shown?: string): string | null {
  if (rules.allow === undefined || listed(rules.allow, destination, false)) return null;
  return `${shown ?? hostPort(destination)}, which the organization's egress policy does not list (policy egress.allow)`;
}

/**
 * Why `destination` may not be called at `address` (one it resolves to, or its own literal), or
 * null. A non-public address is reachable only when the host is listed exactly (host or
 * host:port, never through a `*.` wildcard) by the organization or the operator; a link-local
 * one only when the address itself is listed (a name listed may be rebound to it); a cloud
 * metadata one only when the operator lists the address itself: it hands out the installation's
 * own cloud credentials, which no organization's policy may reach. `shown` names the destination
 * instead of its host, and leaves the address out (a secret URL, whose host is part of the secret).
 */
export function addressRefusal(destination: Destination, address: string, rules: EgressRules, shown?: string): string | null {
  const kind = classifyAddress(address);
  if (!kind) return null;
  const literal = {
    host: canonicalHost(address.includes(':') && !address.startsWith('[') ? `[${address}]` : address) ?? '',
    port: destination.port,
  };
  let why = POLICY_SAYS;
  if (kind === 'metadata') {
    if (listed(rules.operatorAllow, literal, true)) return null;
    why = ONLY_OPERATOR;
  } else if (kind === 'link-local') {
    if (listed(rules.allow, literal, true) || listed(rules.operatorAllow, literal, true)) return null;
    why = ONLY_LITERAL;
  } else if (listed(rules.allow, destination, true) || listed(rules.operatorAllow, destination, true)) return null;
  const bare = address.replace(/^\[|\]$/g, '');
  const where = shown
    ? `${shown}, which resolves to ${describeKind(kind)}`
    : bare === destination.host.replace(/^\[|\]$/g, '')
      ? `${destination.host}, ${describeKind(kind)}`
      : `${destination.host}, which resolves to ${bare}, ${describeKind(kind)}`;
  return `${where}; ${why}`;
}

/** Everything known about a URL before any DNS: its allow-list refusal, or its literal address's. Null: check again at call time. `shown` as `addressRefusal`. */
export function urlRefusal(url: string, rules: EgressRules, shown?: string): string | null {
  const destination = destinationOf(url);
  return (
    destinationRefusal(destination, rules, shown) ??
    (classifyAddress(destination.host) !== undefined ? addressRefusal(destination, destination.host, rules, shown) : null)
  );
}

/** A destination as messages name it: `host:port`. */
export const hostPort = (destination: Destination): string => `${destination.host}:${destination.port}`;

/**
 * Request headers a webhook may not set: hop-by-hop ones (the connection's, not the request's),
 * `host` (would aim the request elsewhere than its URL), `cookie` and `content-length` (framing).
 */
export const FORBIDDEN_HEADERS: readonly string[] = [
  'connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'cookie',
  'content-length',
];

/** The headers of `headers` a webhook may not set (`proxy-*` too), as named. */
export function forbiddenHeaders(headers: Readonly<Record<string, unknown>> | undefined): string[] {
  return Object.keys(headers ?? {}).filter((name) => {
    const lower = name.toLowerCase();
    return FORBIDDEN_HEADERS.includes(lower) || lower.startsWith('proxy-');
  });
}

/**
 * Why a call to an address inside the organization's network is flagged for a reviewer: its host
 * is a non-public literal address or a local name. Null for any other host (its addresses are
 * known only when called).
 */
export function internalReason(url: string): string | null {
  const { host } = destinationOf(url);
  const kind = classifyAddress(host);
  if (kind) return `${host} is ${describeKind(kind)}`;
  if (host === 'localhost' || /\.(localhost|local|internal|lan|home\.arpa)$/.test(host)) return `${host} is a local name`;
  return null;
}

/** The webhook steps of a plan the rules refuse before any DNS (an unlisted host, a literal non-public address), each naming its node and the rule. */
export function egressIssues(plan: Pick<CompiledPlan, 'nodes'>, rules: EgressRules): ValidationIssue[] {
  return plan.nodes.flatMap((node) => {
    // A secret URL is known only in the activity that calls it, and checked there.
    const refusal = isWebhook(node.executor) && typeof node.executor.url === 'string' ? urlRefusal(node.executor.url, rules) : null;
    return refusal ? [{ code: 'egress-refused', nodeId: node.nodeId, message: `Node "${node.nodeId}" posts to ${refusal}.` }] : [];
  });
}
