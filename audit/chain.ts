import { createHash, createPublicKey, verify as verifySignature } from 'node:crypto';

import canonicalize from 'canonicalize';

/*
 * The audit chain's formulas and its verifier (docs/auditing.md, DESIGN §5a). Pure but for
 * hashing and signature checks, so `plans audit verify FILE` runs with no stack and no database,
 * and anyone can re-implement it from these lines:
 *
 *   body    = the stored event, every field but its record id, `feedSeq` and `hash`
 *   digest  = SHA-256( "<position>\n" + canonical JSON of body (RFC 8785) )          lower hex
 *   hash    = SHA-256( hash of the previous position + digest )                      lower hex
 *   genesis = 64 zeros: the "previous hash" of an organization's first chained event
 *
 * A signed head is an organization's chain value at a position, signed with its Ed25519 key:
 * the signature covers `canonical({statement, organizationId, position, hash, signedAt, keyId})`.
 */

export const GENESIS = '0'.repeat(64);
const HEAD_STATEMENT = 'execution-plans audit head v1';
/** The export's format: a reader refuses what it does not know. */
export const EXPORT_FORMAT = 1;

const sha256 = (text: string): string => createHash('sha256').update(text, 'utf8').digest('hex');

/** RFC 8785 canonical JSON: the bytes a hash is taken of, whatever order a reader keeps keys in. */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new Error('Nothing to canonicalize.');
  return text;
}

/** The digest of one event's body at its position. */
export function digestOf(position: number, canonicalBody: string): string {
  return sha256(`${position}\n${canonicalBody}`);
}

/** The chain value after an entry whose digest is `digest`. */
export function chainHash(previous: string, digest: string): string {
  return sha256(previous + digest);
}

/** A public key's id: the first 16 hex digits of the SHA-256 of its SPKI DER. */
export function keyIdOf(publicKeyDer: Buffer): string {
  return createHash('sha256').update(publicKeyDer).digest('hex').slice(0, 16);
}

/** A signed chain head, as stored and exported. */
export interface SignedHead {
  organizationId: string;
  position: number;
  hash: string;
  /** The head signed before this one (null for the first): heads chain too, so a removed head is seen. */
  previous: { position: number; hash: string } | null;
  /** Where the organization's chain starts: events before it are unchained, none after. */
  chainedFrom: number;
  signedAt: string;
  keyId: string;
  /** Ed25519 over `headStatement(…)`, base64. */
  signature: string;
}

/** What a head's signature covers. */
export function headStatement(head: Omit<SignedHead, 'signature'>): string {
  const { organizationId, position, hash, previous, chainedFrom, signedAt, keyId } = head;
  return canonicalJson({ statement: HEAD_STATEMENT, organizationId, position, hash, previous, chainedFrom, signedAt, keyId });
}

/** An export's last line: what it holds, signed, so a file cut short or with events taken out does not verify. */
export interface ExportEnd {
  organizationId: string;
  runId: string | null;
  anchor: { position: number; hash: string } | null;
  /** The last position of the chain in the file, and how many events (not links) it holds. */
  last: number | null;
  events: number;
  signedAt: string;
  keyId: string;
  signature: string;
}

const END_STATEMENT = 'execution-plans audit export v1';

/** What an export's end line's signature covers. */
export function endStatement(end: Omit<ExportEnd, 'signature'>): string {
  const { organizationId, runId, anchor, last, events, signedAt, keyId } = end;
  return canonicalJson({ statement: END_STATEMENT, organizationId, runId, anchor, last, events, signedAt, keyId });
}

/** An organization's public key, as exported (SPKI DER, base64). */
export interface AuditPublicKey {
  keyId: string;
  algorithm: 'Ed25519';
  publicKey: string;
  createdAt: string;
  retiredAt: string | null;
}

/** One line of an export (JSON lines), in order: the header, the keys, then by position the anchor, events, links and unchained events, each signed head right after the position it signs. */
export type ExportLine =
  | {
      kind: 'audit-export';
      format: number;
      organizationId: string;
      /** The window asked for, as given (a position or an ISO time), or null: from the start, to the head. */
      from: string | null;
      to: string | null;
      runId: string | null;
      /** The first position of the organization's chain: events before it were stored before the chain and are `unchained`. */
      chainedFrom: number | null;
      exportedAt: string;
    }
  | ({ kind: 'key' } & AuditPublicKey)
  /** The chain value just before the first chained position exported (the genesis, or the stored hash there). */
  | { kind: 'anchor'; position: number; hash: string }
  | { kind: 'event'; position: number; hash: string; event: Record<string, unknown> }
  /** An event stored before the chain: exported, not covered. */
  | { kind: 'unchained'; position: number; event: Record<string, unknown> }
  /** An event outside what was asked (another run's, or past the window up to the head that covers it): its digest and hash, so the chain can be followed through it. */
  | { kind: 'link'; position: number; digest: string; hash: string }
  | ({ kind: 'head' } & SignedHead)
  | ({ kind: 'end' } & ExportEnd);

/** Where the chain breaks, and what the verifier saw there. */
export interface ChainBreak {
  position: number;
  problem: ChainProblem;
  message: string;
}

/** What a break can be (the answer schemas list them from here). */
export const CHAIN_PROBLEMS = ['changed', 'removed', 'reordered', 'inserted', 'head', 'signature', 'unsigned', 'format'] as const;
export type ChainProblem = (typeof CHAIN_PROBLEMS)[number];

/** Events without a hash, when they are not allowed: the one wording for a file and for a live walk. */
export function unchainedBreak(count: number): ChainBreak {
  return {
    position: 0,
    problem: 'unsigned',
    message: `${count} events carry no hash (stored before the chain, or stripped of it): pass --allow-unchained if this installation was upgraded with history.`,
  };
}

/** Whether a window bound is a position (digits) or an ISO 8601 time. */
export function isPositionOrTime(value: string): boolean {
  return /^\d+$/.test(value) || !Number.isNaN(Date.parse(value));
}

export interface VerifyOptions {
  /** Key ids the heads must be signed with (pinned out of band); any key the file lists when empty. */
  trustedKeyIds?: readonly string[];
  /** Events after the last signed head are not a break (a live walk: the next signature is seconds away). */
  allowUnsignedTail?: boolean;
  /** A decider's receipt the record must hold: its event (run, sequence, type) at its position, with its hash. */
  receipt?: { position: number; hash: string; event: { runId: string; sequence: number; eventType: string } };
  /** Events stored before the chain are no break (an installation upgraded with history): off, they are one. */
  allowUnchained?: boolean;
  /** A live walk has no end line (nothing signed it); a file must end with one. */
  withoutEnd?: boolean;
}

export interface VerifyReport {
  ok: boolean;
  organizationId: string | null;
  runId: string | null;
  /** The first and last positions checked. */
  from: number | null;
  to: number | null;
  /** Events checked (content hashed), links followed, events stored before the chain. */
  events: number;
  links: number;
  unchained: number;
  /** The signed heads that matched, the keys that signed them, and the last position they cover. */
  heads: number;
  keyIds: string[];
  signedThrough: number | null;
  /** The first break, when not ok. */
  break: ChainBreak | null;
}

/**
 * Checks an export line by line, in one pass and constant memory (a head is checked where it
 * stands, right after the position it signs): `push` answers the first break, `finish` the report.
 * Contract:
 * 1. must see the header first and the format it knows, else a `format` break;
 * 2. must find positions consecutive from the anchor: a gap is `removed`, a step back `reordered`;
 * 3. must recompute each event's digest from its body and the chain from the anchor: a mismatch
 *    is `changed` (or `inserted`, for an event of another organization);
 * 4. must check each head's signature with a listed (and, when pinned, trusted) key and against
 *    the chain at its position: a mismatch there, with every event matching its own hash, means
 *    the hashes after a change were written again — located between the last good head and it;
 * 5. must not accept events past the last signed head unless told (`allowUnsignedTail`).
 */
export class ChainVerifier {
  private readonly report: VerifyReport = {
    ok: false,
    organizationId: null,
    runId: null,
    from: null,
    to: null,
    events: 0,
    links: 0,
    unchained: 0,
    heads: 0,
    keyIds: [],
    signedThrough: null,
    break: null,
  };
  private header: Extract<ExportLine, { kind: 'audit-export' }> | undefined;
  private readonly keys = new Map<string, AuditPublicKey>();
  private readonly signers = new Set<string>();
  /** The last position of the chain seen (the anchor first) and the chain's value there. */
  private previous: { position: number; hash: string } | undefined;
  private lastPosition = 0;
  /** The last head that matched: the next must name it as its previous. */
  private lastHead: { position: number; hash: string } | undefined;
  /** Where the chain in the file starts: the anchor's position and hash. */
  private anchor: { position: number; hash: string } | undefined;
  private ended = false;
  private receiptSeen = false;

  constructor(private readonly options: VerifyOptions = {}) {}

  /** The anchor's position (-1 before one was read). */
  private anchorPosition(): number {
    return this.anchor?.position ?? -1;
  }

  /** The first break this line shows (then every later push answers it again), or none. */
  push(line: ExportLine): ChainBreak | null {
    if (this.report.break) return this.report.break;
    let problem: ChainBreak | undefined;
    try {
      problem = this.ended
        ? { position: this.lastPosition, problem: 'format', message: 'Lines after the export’s signed end.' }
        : this.check(line);
    } catch (error) {
      // A line of the right kind but the wrong shape (no key, no event): named, not thrown.
      problem = {
        position: this.lastPosition,
        problem: 'format',
        message: `A ${String((line as { kind?: unknown })?.kind)} line is malformed: ${(error as Error).message}`,
      };
    }
    if (problem) this.report.break = problem;
    return this.report.break;
  }

  /** The report once every line was pushed. */
  finish(): VerifyReport {
    const report = this.report;
    if (!report.break && !this.header) report.break = { position: 0, problem: 'format', message: 'The file holds no audit export.' };
    const end = this.previous?.position;
    if (
      !report.break &&
      end !== undefined &&
      end > (report.signedThrough ?? -1) &&
      end > this.anchorPosition() &&
      !this.options.allowUnsignedTail
    )
      report.break = {
        position: report.signedThrough === null ? this.anchorPosition() + 1 : report.signedThrough + 1,
        problem: 'unsigned',
        message:
          report.signedThrough === null
            ? 'No signed head covers the exported events: nothing proves they are the ones stored.'
            : `Positions after ${report.signedThrough} are not covered by a signed head.`,
      };
    const receipt = this.options.receipt;
    if (!report.break && receipt && !this.receiptSeen)
      report.break = {
        position: receipt.position,
        problem: 'removed',
        message: `The record does not hold the receipt's event at position ${receipt.position}.`,
      };
    if (!report.break && this.header && !this.ended && !this.options.withoutEnd)
      report.break = {
        position: this.lastPosition,
        problem: 'format',
        message: 'The export has no signed end: it was cut short (or its end removed).',
      };
    if (!report.break && report.unchained > 0 && !this.options.allowUnchained) report.break = unchainedBreak(report.unchained);
    report.keyIds = [...this.signers].sort();
    report.ok = report.break === null;
    return report;
  }

  private check(line: ExportLine): ChainBreak | undefined {
    const at = (position: number, problem: ChainBreak['problem'], message: string): ChainBreak => ({ position, problem, message });
    const header = this.header;
    if (!header) {
      if (line.kind !== 'audit-export') return at(0, 'format', 'The first line is not an audit export header.');
      if (line.format !== EXPORT_FORMAT)
        return at(0, 'format', `Export format ${line.format} is not one this verifier reads (${EXPORT_FORMAT}).`);
      this.header = line;
      this.report.organizationId = line.organizationId;
      this.report.runId = line.runId;
      return undefined;
    }
    switch (line.kind) {
      case 'audit-export':
        return at(this.lastPosition, 'format', 'A second export header inside the file.');
      case 'key':
        if (keyIdOf(Buffer.from(line.publicKey, 'base64')) !== line.keyId)
          return at(0, 'format', `Key ${line.keyId} is not the key its id names.`);
        this.keys.set(line.keyId, line);
        return undefined;
      case 'unchained':
        if (this.previous)
          return at(line.position, 'changed', `Position ${line.position} carries no hash but comes after the chain's start.`);
        if (line.position <= this.lastPosition)
          return at(line.position, 'reordered', `Position ${line.position} comes after ${this.lastPosition}.`);
        if (header.chainedFrom !== null && line.position >= header.chainedFrom)
          return at(
            line.position,
            'changed',
            `Position ${line.position} is in the chain (from ${header.chainedFrom}) but carries no hash.`,
          );
        this.lastPosition = line.position;
        this.report.unchained += 1;
        return undefined;
      case 'anchor':
        if (this.previous) return at(line.position, 'format', 'A second anchor inside the file.');
        this.previous = { position: line.position, hash: line.hash };
        this.anchor = { position: line.position, hash: line.hash };
        this.lastPosition = Math.max(this.lastPosition, line.position);
        return undefined;
      case 'event':
      case 'link': {
        const previous = this.previous;
        if (!previous) return at(line.position, 'format', 'An event before the anchor: the file does not say where the chain starts.');
        const expected = previous.position + 1;
        if (line.position > expected)
          return at(expected, 'removed', `Position ${expected} is missing: an event was removed (the next present is ${line.position}).`);
        if (line.position < expected)
          return at(
            line.position,
            'reordered',
            `Position ${line.position} comes again after ${previous.position}: events were reordered or duplicated.`,
          );
        const digest = line.kind === 'event' ? digestOf(line.position, canonicalJson(line.event)) : line.digest;
        const hash = chainHash(previous.hash, digest);
        if (hash !== line.hash) {
          if (line.kind === 'link')
            return at(line.position, 'changed', `Position ${line.position} (an event not exported) does not match the chain.`);
          const foreign = line.event.organizationId !== header.organizationId;
          return at(
            line.position,
            foreign ? 'inserted' : 'changed',
            `Position ${line.position} (run ${String(line.event.runId)}, event ${String(line.event.sequence)}) does not match the chain: it was ${foreign ? 'inserted from another organization' : 'changed, inserted or moved'}.`,
          );
        }
        if (line.kind === 'event') {
          this.report.events += 1;
          this.report.from ??= line.position;
          this.report.to = line.position;
        } else this.report.links += 1;
        const receipt = this.options.receipt;
        if (receipt?.position === line.position) {
          const held =
            line.kind === 'event' &&
            receipt.hash === hash &&
            line.event.runId === receipt.event.runId &&
            line.event.sequence === receipt.event.sequence &&
            line.event.eventType === receipt.event.eventType;
          if (!held)
            return at(line.position, 'changed', `The receipt's event at position ${line.position} is not the one the record holds there.`);
          this.receiptSeen = true;
        }
        this.previous = { position: line.position, hash };
        this.lastPosition = line.position;
        return undefined;
      }
      case 'head':
        return this.checkHead(line, header);
      case 'end':
        return this.checkEnd(line, header);
      default:
        return at(this.lastPosition, 'format', `Unknown line kind ${String((line as { kind?: unknown }).kind)}.`);
    }
  }

  /** Whether `signature` over `statement` is a listed (and, when pinned, trusted) key's: the refusal, else none. */
  private signatureRefusal(what: string, keyId: string, statement: string, signature: string): string | undefined {
    const key = this.keys.get(keyId);
    if (!key) return `${what} is signed by key ${keyId}, which the file does not list.`;
    const trusted = this.options.trustedKeyIds;
    if (trusted?.length && !trusted.includes(keyId)) return `${what} is signed by key ${keyId}, not a trusted one.`;
    const publicKey = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' });
    if (!verifySignature(null, Buffer.from(statement, 'utf8'), publicKey, Buffer.from(signature, 'base64')))
      return `${what} does not carry a valid signature of key ${keyId}.`;
    return undefined;
  }

  private checkEnd(end: ExportEnd, header: Extract<ExportLine, { kind: 'audit-export' }>): ChainBreak | undefined {
    const at = (problem: ChainBreak['problem'], message: string): ChainBreak => ({ position: this.lastPosition, problem, message });
    const refused = this.signatureRefusal('The export’s end', end.keyId, endStatement(end), end.signature);
    if (refused) return at('signature', refused);
    const anchor = this.anchor ?? null;
    const holds =
      end.organizationId === header.organizationId &&
      end.runId === header.runId &&
      canonicalJson(end.anchor) === canonicalJson(anchor) &&
      end.last === (this.previous?.position ?? null) &&
      end.events === this.report.events;
    if (!holds)
      return at(
        'removed',
        `The export's signed end says it holds ${end.events} events through position ${end.last}; the file holds ${this.report.events} through ${this.previous?.position ?? 'none'}: lines were taken out or changed.`,
      );
    this.ended = true;
    return undefined;
  }

  private checkHead(head: SignedHead, header: Extract<ExportLine, { kind: 'audit-export' }>): ChainBreak | undefined {
    const at = (problem: ChainBreak['problem'], message: string): ChainBreak => ({ position: head.position, problem, message });
    const refused = this.signatureRefusal(`The head at position ${head.position}`, head.keyId, headStatement(head), head.signature);
    if (refused) return at('signature', refused);
    if (head.organizationId !== header.organizationId)
      return at('signature', `The head at position ${head.position} is another organization's.`);
    if (head.chainedFrom !== header.chainedFrom)
      return at('head', `The head at position ${head.position} says the chain starts at ${head.chainedFrom}, not ${header.chainedFrom}.`);
    // Heads chain: each names the one before. From the chain's start the first has none; a head taken out is seen at the next.
    const fromStart = this.anchor?.hash === GENESIS && this.anchor.position === (header.chainedFrom ?? 1) - 1;
    const expected = this.lastHead ?? (fromStart ? null : undefined);
    if (expected !== undefined && canonicalJson(head.previous) !== canonicalJson(expected))
      return at(
        'head',
        `The head at position ${head.position} follows ${head.previous ? `a head at position ${head.previous.position}` : 'no head'}, not ${expected ? `the one at ${expected.position}` : 'none'}: signed heads were removed or put in.`,
      );
    if (head.position !== this.previous?.position)
      return at(
        'format',
        `The head of position ${head.position} stands after position ${this.previous?.position ?? 'none'}: heads follow the position they sign.`,
      );
    if (head.hash !== this.previous.hash) {
      const after = this.report.signedThrough ?? this.anchorPosition();
      return at(
        'head',
        `The chain does not reach the head signed at position ${head.position}: an event after position ${after} and up to ${head.position} was changed, removed, inserted or reordered (and the hashes after it written again).`,
      );
    }
    this.signers.add(head.keyId);
    this.lastHead = { position: head.position, hash: head.hash };
    this.report.signedThrough = head.position;
    this.report.heads += 1;
    return undefined;
  }
}

/** The report of a whole export, read a line at a time: what `plans audit verify FILE` prints. */
export async function verifyExport(
  lines: AsyncIterable<ExportLine> | Iterable<ExportLine>,
  options: VerifyOptions = {},
): Promise<VerifyReport> {
  const verifier = new ChainVerifier(options);
  for await (const line of lines) if (verifier.push(line)) break;
  return verifier.finish();
}

/** The lines of a JSON-lines export (raw lines, from a string or a stream); a line that is not JSON is named by its number. */
export async function* parseExportLines(raw: AsyncIterable<string> | Iterable<string>): AsyncGenerator<ExportLine> {
  let number = 0;
  for await (const text of raw) {
    number += 1;
    if (!text.trim()) continue;
    try {
      yield JSON.parse(text) as ExportLine;
    } catch {
      throw new Error(`Line ${number} is not JSON.`);
    }
  }
}
