import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';

import { RecordId, type Surreal } from 'surrealdb';

import {
  type AuditPublicKey,
  type ChainBreak,
  ChainVerifier,
  EXPORT_FORMAT,
  type ExportLine,
  GENESIS,
  type SignedHead,
  type VerifyReport,
  canonicalJson,
  chainHash,
  digestOf,
  endStatement,
  headStatement,
  keyIdOf,
} from '../audit/chain.js';
import { open, seal } from '../auth/secret-box.js';
import { auditBodyOf } from './audit-rows.js';
import { runQuery } from './database.js';

/** An organization's chain as its feed counter holds it: the last position, its hash, where the chain starts. */
export interface ChainState {
  position: number;
  head: string | null;
  chainedFrom: number | null;
  /** The last signed head. */
  lastHead: { position: number; hash: string } | null;
}

const HEAD_MOVED = 'audit-head-moved';

/** The stored chain does not hold where a head would be signed: nothing is signed until someone looks (`plans audit verify --live`). */
export class ChainBrokenError extends Error {
  constructor(organizationId: string, why: string) {
    super(`The audit chain of organization ${organizationId} does not hold (${why}); no head is signed over it.`);
    this.name = 'ChainBrokenError';
  }
}

/** A walk of the stored chain: the verifier's report, and the feed counter's last position. */
export type LiveVerifyReport = VerifyReport & { position: number };

/** What a decider keeps to prove later what they decided: their event's place in the chain and a signed head that covers it. */
export interface AuditReceipt {
  position: number;
  hash: string;
  event: { runId: string; sequence: number; eventType: string };
  /** The head signed at or after `position`; pending when none could be signed yet (the next signature covers it). */
  head: SignedHead | { pending: true; message: string };
}

/** What an export covers: a window (positions or ISO times; the whole chain when neither) and optionally one run. */
export interface ExportWindow {
  from?: number | string;
  to?: number | string;
  runId?: string;
}

const BATCH = 500;

/** An organization's signing key as stored: the public key in clear, the private one sealed. */
interface KeyRow {
  organizationId: string;
  generation: number;
  keyId: string;
  publicKey: string;
  sealedPrivateKey: string;
  createdAt: string;
  retiredAt?: string;
}

const publicOf = ({ keyId, publicKey, createdAt, retiredAt }: KeyRow): AuditPublicKey => ({
  keyId,
  algorithm: 'Ed25519',
  publicKey,
  createdAt,
  retiredAt: retiredAt ?? null,
});
const keyName = (keyId: string) => `audit-key:${keyId}`;
const fromPosition = (bound: number | string | undefined) => (typeof bound === 'number' ? bound : undefined);
const fromTime = (bound: number | string | undefined) => (typeof bound === 'string' ? new Date(bound).toISOString() : undefined);

/**
 * Each organization's audit chain (audit/chain.ts; the links themselves are written with the
 * events, storage/run-writes.ts): its signing keys, its signed heads, receipts, exports and the
 * walk that verifies what is stored.
 */
export class AuditStore {
  /** The last position this process signed, per organization: a head removed after it is seen at the next signature. */
  private readonly signedHere = new Map<string, number>();

  /** `key` seals the organizations' private signing keys (auth/secret-box.ts); read when first needed. */
  constructor(
    private readonly db: Surreal,
    private readonly key: () => Buffer,
  ) {}

  private async state(organizationId: string): Promise<ChainState> {
    const [row] = await runQuery<
      [{ seq?: number; head?: string; chainedFrom?: number; lastHead?: { position: number; hash: string } } | undefined]
    >(this.db, 'SELECT seq, head, chainedFrom, lastHead FROM ONLY $feed;', { feed: new RecordId('plan_feed', organizationId) });
    return {
      position: row?.seq ?? 0,
      head: row?.head ?? null,
      chainedFrom: row?.chainedFrom ?? null,
      lastHead: row?.lastHead ? { position: row.lastHead.position, hash: row.lastHead.hash } : null,
    };
  }

  /** The organization's public keys, oldest first (retired ones kept: the heads they signed still verify). */
  async keys(organizationId: string): Promise<AuditPublicKey[]> {
    return (await this.keyRows(organizationId)).map(publicOf);
  }

  /** Retires the organization's signing key for a new one; heads signed before keep verifying with the old. */
  async rotateKey(organizationId: string): Promise<AuditPublicKey> {
    const rows = await this.keyRows(organizationId);
    const last = rows.at(-1);
    const created = await this.createKey(organizationId, (last?.generation ?? 0) + 1, last?.generation);
    if (!created) throw new Error(`The signing key of organization ${organizationId} was rotated at the same moment elsewhere; try again.`);
    return publicOf(created);
  }

  /**
   * Signs the organization's chain at its current head, once per position, naming the head
   * signed before it. Contract:
   * 1. must refuse when the head this process signed last is gone (heads were removed);
   * 2. must first recompute the stored chain from the last signed head to the head it signs, and
   *    refuse a chain that does not hold there — a signature never blesses a changed record;
   * 3. must move `plan_feed.lastHead` in the transaction that stores the head, refusing when
   *    another signer moved it first (then the other's head is read and answered).
   * Null when the organization has no chained event yet.
   */
  async signHead(organizationId: string): Promise<SignedHead | null> {
    for (let attempt = 1; ; attempt++) {
      const state = await this.state(organizationId);
      if (state.head === null || state.chainedFrom === null) return null;
      const last = state.lastHead;
      if (last?.position === state.position) return (await this.headCovering(organizationId, state.position))!;
      const remembered = this.signedHere.get(organizationId);
      if (remembered !== undefined && (last?.position ?? -1) < remembered)
        throw new ChainBrokenError(
          organizationId,
          `the head this process signed at position ${remembered} is gone: signed heads were removed`,
        );
      // The key first: a process that cannot sign (no secret key) says so before it walks the segment — which, never
      // signed, would reach back to the first event and grow with the chain at every attempt.
      const signing = await this.signingKey(organizationId);
      const broken = await this.segmentBreak(organizationId, last ?? { position: state.chainedFrom - 1, hash: GENESIS }, state);
      if (broken) throw new ChainBrokenError(organizationId, broken);
      const unsigned = {
        organizationId,
        position: state.position,
        hash: state.head,
        previous: last,
        chainedFrom: state.chainedFrom,
        signedAt: new Date().toISOString(),
        keyId: signing.keyId,
      };
      const head: SignedHead = {
        ...unsigned,
        signature: sign(null, Buffer.from(headStatement(unsigned), 'utf8'), signing.privateKey).toString('base64'),
      };
      try {
        await runQuery(
          this.db,
          `BEGIN;
          IF ((SELECT VALUE lastHead.position FROM ONLY $feed) ?? -1) != $previous { THROW $moved };
          CREATE $id CONTENT $head RETURN NONE;
          UPDATE $feed SET lastHead = { position: $head.position, hash: $head.hash } RETURN NONE;
          COMMIT;`,
          {
            feed: new RecordId('plan_feed', organizationId),
            previous: last?.position ?? -1,
            moved: HEAD_MOVED,
            id: new RecordId('plan_audit_head', [organizationId, head.position]),
            head,
          },
        );
        this.signedHere.set(organizationId, head.position);
        return head;
      } catch (error) {
        // Another signer went first: sign after it (or answer its head).
        if (attempt < 5 && error instanceof Error && (error.message.includes(HEAD_MOVED) || /already exists/i.test(error.message)))
          continue;
        throw error;
      }
    }
  }

  /** Where the stored chain from `from` (a signed head, or the genesis) up to the feed's head does not hold, in words; none when it does. */
  private async segmentBreak(
    organizationId: string,
    from: { position: number; hash: string },
    state: ChainState,
  ): Promise<string | undefined> {
    let hash = from.hash;
    let expected = from.position + 1;
    for await (const row of this.eventRows(organizationId, state.position, from.position)) {
      const position = row.feedSeq as number;
      if (position !== expected) return `position ${expected} is missing`;
      hash = chainHash(hash, digestOf(position, canonicalJson(auditBodyOf(row))));
      if (hash !== row.hash) return `position ${position} does not match its hash`;
      expected += 1;
    }
    if (expected !== state.position + 1) return `positions ${expected} to ${state.position} are missing`;
    if (hash !== state.head) return `the feed's head is not the chain's hash at position ${state.position}`;
    return undefined;
  }

  /** The first head signed at or after `position`. */
  private async headCovering(organizationId: string, position: number): Promise<SignedHead | null> {
    const [rows] = await runQuery<[SignedHead[]]>(
      this.db,
      'SELECT organizationId, position, hash, previous, chainedFrom, signedAt, keyId, signature FROM plan_audit_head:[$organizationId, $position]..[$organizationId, ..] LIMIT 1;',
      { organizationId, position },
    );
    return rows[0] ?? null;
  }

  /**
   * The receipt of a run's event (the latest one `emittedBy` emitted, when no sequence is named):
   * its position, its hash and the head that covers it, signed now when no head does yet. Null
   * when the run has no such event in the chain (none, or stored before it).
   */
  async receipt(organizationId: string, runId: string, by: { sequence?: number; emittedBy?: string }): Promise<AuditReceipt | null> {
    const [rows] = await runQuery<[Array<{ sequence: number; eventType: string; feedSeq?: number; hash?: string }>]>(
      this.db,
      by.sequence !== undefined
        ? 'SELECT sequence, eventType, feedSeq, hash FROM plan_event:[$runId, $sequence] WHERE organizationId = $organizationId;'
        : 'SELECT sequence, eventType, feedSeq, hash FROM plan_event:[$runId, NONE]..[$runId, ..] WHERE organizationId = $organizationId AND emittedBy = $emittedBy;',
      { runId, organizationId, sequence: by.sequence ?? 0, emittedBy: by.emittedBy ?? '' },
    );
    const event = rows.at(-1);
    if (!event?.hash || event.feedSeq === undefined) return null;
    const pending = (why?: string) => ({
      pending: true as const,
      message: `The next signed head will cover position ${event.feedSeq}${why ? ` (${why})` : ''}.`,
    });
    let head: AuditReceipt['head'] | null = await this.headCovering(organizationId, event.feedSeq);
    try {
      head ??= await this.signHead(organizationId);
    } catch (error) {
      head = pending((error as Error).message);
    }
    return {
      position: event.feedSeq,
      hash: event.hash,
      event: { runId, sequence: event.sequence, eventType: event.eventType },
      head: head ?? pending(),
    };
  }

  /**
   * An export's lines (audit/chain.ts `ExportLine`), read in batches: the chain is signed at its
   * head first, so what is exported is covered. Events outside the window up to the head that
   * covers its end, and other runs' events in a one-run export, are links (digest and hash only).
   */
  async *exportLines(
    organizationId: string,
    window: ExportWindow = {},
    options: { sign?: boolean; state?: ChainState } = {},
  ): AsyncGenerator<ExportLine> {
    const signed = options.sign === false ? null : await this.signHead(organizationId);
    // One instant's chain: the signed head's, else the state the caller read (a live walk compares with it), else now's.
    const state = signed
      ? { position: signed.position, chainedFrom: signed.chainedFrom }
      : (options.state ?? (await this.state(organizationId)));
    const top = state.position;
    yield {
      kind: 'audit-export',
      format: EXPORT_FORMAT,
      organizationId,
      from: window.from === undefined ? null : String(window.from),
      to: window.to === undefined ? null : String(window.to),
      runId: window.runId ?? null,
      chainedFrom: state.chainedFrom,
      exportedAt: new Date().toISOString(),
    };
    // The key that signs the end exists before the keys are listed (an organization's first export may make it).
    const rows = await this.keyRows(organizationId);
    const signing = options.sign === false ? undefined : await this.signingKey(organizationId, rows);
    for (const key of rows) yield { kind: 'key', ...publicOf(key) };

    const [startPosition, startTime] = [fromPosition(window.from), fromTime(window.from)];
    const [endPosition, endTime] = [fromPosition(window.to), fromTime(window.to)];
    const beforeWindow = (position: number, createdAt: string) =>
      (startPosition !== undefined && position < startPosition) || (startTime !== undefined && createdAt < startTime);
    const pastWindow = (position: number, createdAt: string) =>
      (endPosition !== undefined && position > endPosition) || (endTime !== undefined && createdAt > endTime);

    let anchor: { position: number; hash: string } = { position: (state.chainedFrom ?? 1) - 1, hash: GENESIS };
    let anchored = false;
    /** Once past the window: the position of the head that covers what was exported, up to which links follow. */
    let coveredBy: number | undefined;
    // Heads are read ahead a batch of positions at a time, and each given out after the position it signs.
    const queued: SignedHead[] = [];
    let readThrough = -1;
    const headsUpTo = async function* (this: AuditStore, position: number): AsyncGenerator<ExportLine> {
      if (position > readThrough) {
        const to = Math.max(position, Math.min(top, position + BATCH));
        queued.push(...(await this.heads(organizationId, readThrough + 1, to)));
        readThrough = to;
      }
      while (queued[0] && queued[0].position <= position) yield { kind: 'head', ...queued.shift()! };
    }.bind(this);

    let events = 0;
    let last: number | undefined;
    for await (const row of this.eventRows(organizationId, top)) {
      const position = row.feedSeq as number;
      const body = auditBodyOf(row);
      const createdAt = String(body.createdAt);
      const ofRun = window.runId === undefined || body.runId === window.runId;
      if (typeof row.hash !== 'string') {
        if (!beforeWindow(position, createdAt) && !pastWindow(position, createdAt) && ofRun)
          yield { kind: 'unchained', position, event: body };
        continue;
      }
      if (!anchored) {
        if (beforeWindow(position, createdAt)) {
          anchor = { position, hash: row.hash };
          continue;
        }
        anchored = true;
        readThrough = anchor.position - 1;
        yield { kind: 'anchor', ...anchor };
        yield* headsUpTo(anchor.position);
      }
      if (coveredBy === undefined && pastWindow(position, createdAt))
        coveredBy = (await this.headCovering(organizationId, position - 1))?.position ?? top;
      if (coveredBy !== undefined && position > coveredBy) break;
      if (coveredBy !== undefined || !ofRun)
        yield { kind: 'link', position, digest: digestOf(position, canonicalJson(body)), hash: row.hash };
      else {
        events += 1;
        yield { kind: 'event', position, hash: row.hash, event: body };
      }
      last = position;
      yield* headsUpTo(position);
    }
    // The signed end: what the file holds, so one cut short, or with events taken out, does not verify.
    // (An organization with no chained event yet gets one too: an export that says it is empty, signed.)
    if (signing) {
      const end = {
        organizationId,
        runId: window.runId ?? null,
        anchor: anchored ? anchor : null,
        last: last ?? null,
        events,
        signedAt: new Date().toISOString(),
        keyId: signing.keyId,
      };
      yield { kind: 'end', ...end, signature: sign(null, Buffer.from(endStatement(end), 'utf8'), signing.privateKey).toString('base64') };
    }
  }

  /**
   * Walks the organization's stored chain from its start to its head (`plans audit verify
   * --live`, the doctor): the first break, located; events after the last signed head are not
   * one. Also that the feed counter's head is the last event's hash (events removed from the end).
   */
  async verify(organizationId: string): Promise<LiveVerifyReport> {
    const verifier = new ChainVerifier({ allowUnsignedTail: true, allowUnchained: true, withoutEnd: true });
    const state = await this.state(organizationId);
    let last: { position: number; hash: string } | undefined;
    for await (const line of this.exportLines(organizationId, {}, { sign: false, state })) {
      if (verifier.push(line)) break;
      if (line.kind === 'event') last = { position: line.position, hash: line.hash };
    }
    const report = verifier.finish();
    const remembered = this.signedHere.get(organizationId);
    if (report.ok && remembered !== undefined && (report.signedThrough ?? -1) < remembered)
      return {
        ...report,
        ok: false,
        break: {
          position: remembered,
          problem: 'head',
          message: `The head this process signed at position ${remembered} is gone: signed heads were removed (and what they covered may have been rewritten).`,
        },
        position: state.position,
      };
    if (report.ok && state.head === null && (report.events > 0 || state.lastHead !== null))
      return {
        ...report,
        ok: false,
        break: {
          position: report.from ?? 0,
          problem: 'changed',
          message: "The chain's head was removed from the feed counter, which still holds hashed events or signed heads.",
        },
        position: state.position,
      };
    if (report.ok && state.head !== null && (last?.position !== state.position || last.hash !== state.head)) {
      const missing = (last?.position ?? (state.chainedFrom ?? 1) - 1) + 1;
      const found: ChainBreak =
        last && last.position === state.position
          ? {
              position: state.position,
              problem: 'changed',
              message: `The chain's head at position ${state.position} is not the last event's hash.`,
            }
          : {
              position: missing,
              problem: 'removed',
              message: `Positions ${missing} to ${state.position} are missing: events were removed from the end.`,
            };
      return { ...report, ok: false, break: found, position: state.position };
    }
    return { ...report, position: state.position };
  }

  /** Signed heads with `from ≤ position ≤ to`, in order. */
  private async heads(organizationId: string, from: number, to: number): Promise<SignedHead[]> {
    if (to < from) return [];
    const [rows] = await runQuery<[SignedHead[]]>(
      this.db,
      'SELECT organizationId, position, hash, previous, chainedFrom, signedAt, keyId, signature FROM plan_audit_head:[$organizationId, $from]..=[$organizationId, $to];',
      { organizationId, from, to },
    );
    return rows;
  }

  /** The organization's events in feed order up to `top`, raw rows, a batch at a time. */
  private async *eventRows(organizationId: string, top: number, from = 0): AsyncGenerator<Record<string, unknown>> {
    for (let after = from; after < top;) {
      const [rows] = await runQuery<[Record<string, unknown>[]]>(
        this.db,
        'SELECT * FROM plan_event WHERE organizationId = $organizationId AND feedSeq > $after ORDER BY feedSeq LIMIT $limit;',
        { organizationId, after, limit: BATCH },
      );
      for (const row of rows) {
        if ((row.feedSeq as number) > top) return;
        yield row;
      }
      if (rows.length < BATCH) return;
      after = rows.at(-1)!.feedSeq as number;
    }
  }

  private async keyRows(organizationId: string): Promise<KeyRow[]> {
    const [rows] = await runQuery<[KeyRow[]]>(this.db, 'SELECT * FROM plan_audit_key:[$organizationId, NONE]..[$organizationId, ..];', {
      organizationId,
    });
    return rows.sort((a, b) => a.generation - b.generation);
  }

  /** The organization's current signing key, made on first use (added to `rows`, the keys already read, when given). */
  private async signingKey(organizationId: string, rows?: KeyRow[]) {
    const known = rows ?? (await this.keyRows(organizationId));
    let current = known.at(-1);
    if (!current) {
      // Another process may make it at the same moment: then theirs is the one.
      current = (await this.createKey(organizationId, 1)) ?? (await this.keyRows(organizationId)).at(-1)!;
      known.push(current);
    }
    const pem = open(this.key(), organizationId, keyName(current.keyId), current.sealedPrivateKey);
    return { keyId: current.keyId, privateKey: createPrivateKey(pem) };
  }

  /** Makes generation `generation`'s key (retiring `retire`'s), answering its row; null when another process made it first. */
  private async createKey(organizationId: string, generation: number, retire?: number): Promise<KeyRow | null> {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const keyId = keyIdOf(der);
    const now = new Date().toISOString();
    const row: KeyRow = {
      organizationId,
      generation,
      keyId,
      publicKey: der.toString('base64'),
      sealedPrivateKey: seal(this.key(), organizationId, keyName(keyId), privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()),
      createdAt: now,
    };
    try {
      await runQuery(
        this.db,
        `BEGIN;
        CREATE $id CONTENT $row RETURN NONE;
        IF $retire != NONE { UPDATE type::record('plan_audit_key', [$organizationId, $retire]) SET retiredAt = $now RETURN NONE };
        COMMIT;`,
        {
          id: new RecordId('plan_audit_key', [organizationId, generation]),
          row,
          retire,
          organizationId,
          now,
        },
      );
      return row;
    } catch (error) {
      if (error instanceof Error && /already exists/i.test(error.message)) return null;
      throw error;
    }
  }
}
