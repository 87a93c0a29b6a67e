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
  digestOf,
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
}

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
const keyName = (keyId: string) => `audit-key:${keyId}`;
const fromPosition = (bound: number | string | undefined) => (typeof bound === 'number' ? bound : undefined);
const fromTime = (bound: number | string | undefined) => (typeof bound === 'string' ? new Date(bound).toISOString() : undefined);

/**
 * Each organization's audit chain (audit/chain.ts; the links themselves are written with the
 * events, storage/run-writes.ts): its signing keys, its signed heads, receipts, exports and the
 * walk that verifies what is stored.
 */
export class AuditStore {
  /** `key` seals the organizations' private signing keys (auth/secret-box.ts); read when first needed. */
  constructor(
    private readonly db: Surreal,
    private readonly key: () => Buffer,
  ) {}

  async state(organizationId: string): Promise<ChainState> {
    const [row] = await runQuery<[{ seq?: number; head?: string; chainedFrom?: number } | undefined]>(
      this.db,
      'SELECT seq, head, chainedFrom FROM ONLY $feed;',
      { feed: new RecordId('plan_feed', organizationId) },
    );
    return { position: row?.seq ?? 0, head: row?.head ?? null, chainedFrom: row?.chainedFrom ?? null };
  }

  /** The organization's public keys, oldest first (retired ones kept: the heads they signed still verify). */
  async keys(organizationId: string): Promise<AuditPublicKey[]> {
    return (await this.keyRows(organizationId)).map(({ keyId, publicKey, createdAt, retiredAt }) => ({
      keyId,
      algorithm: 'Ed25519',
      publicKey,
      createdAt,
      retiredAt: retiredAt ?? null,
    }));
  }

  /** Retires the organization's signing key for a new one; heads signed before keep verifying with the old. */
  async rotateKey(organizationId: string): Promise<AuditPublicKey> {
    const rows = await this.keyRows(organizationId);
    const last = rows.at(-1);
    const created = await this.createKey(organizationId, (last?.generation ?? 0) + 1, last?.generation);
    if (!created) throw new Error(`The signing key of organization ${organizationId} was rotated at the same moment elsewhere; try again.`);
    return (await this.keys(organizationId)).at(-1)!;
  }

  /**
   * Signs the organization's chain at its current head (once per position: a second signer keeps
   * the first's). Null when the organization has no chained event yet.
   */
  async signHead(organizationId: string): Promise<SignedHead | null> {
    const state = await this.state(organizationId);
    if (state.head === null) return null;
    const existing = await this.headCovering(organizationId, state.position);
    if (existing?.position === state.position) return existing;
    const signing = await this.signingKey(organizationId);
    const unsigned = {
      organizationId,
      position: state.position,
      hash: state.head,
      signedAt: new Date().toISOString(),
      keyId: signing.keyId,
    };
    const head: SignedHead = {
      ...unsigned,
      signature: sign(null, Buffer.from(headStatement(unsigned), 'utf8'), signing.privateKey).toString('base64'),
    };
    await runQuery(this.db, 'INSERT IGNORE INTO plan_audit_head $rows RETURN NONE;', {
      rows: [{ id: new RecordId('plan_audit_head', [organizationId, head.position]), ...head }],
    });
    return (await this.headCovering(organizationId, state.position))!;
  }

  /** The first head signed at or after `position`. */
  async headCovering(organizationId: string, position: number): Promise<SignedHead | null> {
    const [rows] = await runQuery<[SignedHead[]]>(
      this.db,
      'SELECT organizationId, position, hash, signedAt, keyId, signature FROM plan_audit_head:[$organizationId, $position]..[$organizationId, ..] LIMIT 1;',
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
    const [rows] = await runQuery<
      [Array<{ sequence: number; eventType: string; feedSeq?: number; hash?: string; organizationId?: string }>]
    >(
      this.db,
      by.sequence !== undefined
        ? 'SELECT sequence, eventType, feedSeq, hash, organizationId FROM plan_event:[$runId, $sequence];'
        : 'SELECT sequence, eventType, feedSeq, hash, organizationId, emittedBy FROM plan_event:[$runId, NONE]..[$runId, ..] WHERE emittedBy = $emittedBy;',
      { runId, sequence: by.sequence ?? 0, emittedBy: by.emittedBy ?? '' },
    );
    const event = rows.filter((row) => row.organizationId === organizationId).at(-1);
    if (!event?.hash || event.feedSeq === undefined) return null;
    let head: AuditReceipt['head'] | null = await this.headCovering(organizationId, event.feedSeq);
    if (!head) {
      try {
        head = await this.signHead(organizationId);
      } catch (error) {
        head = { pending: true, message: `The next signed head will cover position ${event.feedSeq} (${(error as Error).message}).` };
      }
    }
    return {
      position: event.feedSeq,
      hash: event.hash,
      event: { runId, sequence: event.sequence, eventType: event.eventType },
      head: head ?? { pending: true, message: `The next signed head will cover position ${event.feedSeq}.` },
    };
  }

  /**
   * An export's lines (audit/chain.ts `ExportLine`), read in batches: the chain is signed at its
   * head first, so what is exported is covered. Events outside the window up to the head that
   * covers its end, and other runs' events in a one-run export, are links (digest and hash only).
   */
  async *exportLines(organizationId: string, window: ExportWindow = {}, options: { sign?: boolean } = {}): AsyncGenerator<ExportLine> {
    const signed = options.sign === false ? null : await this.signHead(organizationId);
    const state = await this.state(organizationId);
    const top = signed?.position ?? state.position;
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
    for (const key of await this.keys(organizationId)) yield { kind: 'key', ...key };

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
    let headsAfter = -1;
    const headsUpTo = async function* (this: AuditStore, position: number): AsyncGenerator<ExportLine> {
      for (const head of await this.heads(organizationId, headsAfter + 1, position)) yield { kind: 'head', ...head };
      headsAfter = position;
    }.bind(this);

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
        headsAfter = anchor.position - 1;
        yield { kind: 'anchor', ...anchor };
        yield* headsUpTo(anchor.position);
      }
      if (coveredBy === undefined && pastWindow(position, createdAt))
        coveredBy = (await this.headCovering(organizationId, position - 1))?.position ?? top;
      if (coveredBy !== undefined && position > coveredBy) break;
      yield coveredBy !== undefined || !ofRun
        ? { kind: 'link', position, digest: digestOf(position, canonicalJson(body)), hash: row.hash }
        : { kind: 'event', position, hash: row.hash, event: body };
      yield* headsUpTo(position);
    }
  }

  /**
   * Walks the organization's stored chain from its start to its head (`plans audit verify
   * --live`, the doctor): the first break, located; events after the last signed head are not
   * one. Also that the feed counter's head is the last event's hash (events removed from the end).
   */
  async verify(organizationId: string): Promise<VerifyReport & { position: number }> {
    const verifier = new ChainVerifier({ allowUnsignedTail: true });
    const state = await this.state(organizationId);
    let last: { position: number; hash: string } | undefined;
    for await (const line of this.exportLines(organizationId, {}, { sign: false })) {
      if (verifier.push(line)) break;
      if (line.kind === 'event') last = { position: line.position, hash: line.hash };
    }
    const report = verifier.finish();
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
      'SELECT organizationId, position, hash, signedAt, keyId, signature FROM plan_audit_head:[$organizationId, $from]..=[$organizationId, $to];',
      { organizationId, from, to },
    );
    return rows;
  }

  /** The organization's events in feed order up to `top`, raw rows, a batch at a time. */
  private async *eventRows(organizationId: string, top: number): AsyncGenerator<Record<string, unknown>> {
    for (let after = 0; after < top;) {
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

  private async keyRows(organizationId: string) {
    const [rows] = await runQuery<
      [Array<{ generation: number; keyId: string; publicKey: string; sealedPrivateKey: string; createdAt: string; retiredAt?: string }>]
    >(this.db, 'SELECT * FROM plan_audit_key:[$organizationId, NONE]..[$organizationId, ..];', { organizationId });
    return rows.sort((a, b) => a.generation - b.generation);
  }

  /** The organization's current signing key, made on first use. */
  private async signingKey(organizationId: string) {
    let current = (await this.keyRows(organizationId)).at(-1);
    if (!current) {
      await this.createKey(organizationId, 1);
      current = (await this.keyRows(organizationId)).at(-1)!;
    }
    const pem = open(this.key(), organizationId, keyName(current.keyId), current.sealedPrivateKey);
    return { keyId: current.keyId, privateKey: createPrivateKey(pem) };
  }

  /** Makes generation `generation`'s key (retiring `retire`'s); false when another process made it first. */
  private async createKey(organizationId: string, generation: number, retire?: number): Promise<boolean> {
    const { publicKey, privateKey } = generateKeyPairSync('ed25519');
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const keyId = keyIdOf(der);
    const now = new Date().toISOString();
    try {
      await runQuery(
        this.db,
        `BEGIN;
        CREATE $id CONTENT $row RETURN NONE;
        IF $retire != NONE { UPDATE type::record('plan_audit_key', [$organizationId, $retire]) SET retiredAt = $now RETURN NONE };
        COMMIT;`,
        {
          id: new RecordId('plan_audit_key', [organizationId, generation]),
          row: {
            organizationId,
            generation,
            keyId,
            publicKey: der.toString('base64'),
            sealedPrivateKey: seal(
              this.key(),
              organizationId,
              keyName(keyId),
              privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
            ),
            createdAt: now,
          },
          retire,
          organizationId,
          now,
        },
      );
      return true;
    } catch (error) {
      if (error instanceof Error && /already exists/i.test(error.message)) return false;
      throw error;
    }
  }
}
