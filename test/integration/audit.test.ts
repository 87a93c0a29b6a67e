import { execFile } from 'node:child_process';
import { createPublicKey, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { RecordId } from 'surrealdb';

import {
  type ExportLine,
  type SignedHead,
  canonicalJson,
  chainHash,
  digestOf,
  headStatement,
  parseExportLines,
} from '../../audit/chain.js';
import type { Stack } from '../../app/stack.js';
import { runQuery } from '../../storage/database.js';
import { type AuditReceipt, PlanStore } from '../../storage/plan-store.js';
import { auditBodyOf } from '../../storage/audit-rows.js';
import { linearDraft } from '../support/drafts.js';
import { askApi, callApi } from '../support/http.js';
import { type Organization, organizationWith } from '../support/principals.js';
import { eventually, startTestStack, tempDir, tampersWithStoredEvents } from '../support/stack.js';

/**
 * The audit record (docs/auditing.md): every stored event is chained as it is written, decisions
 * are answered with receipts, an export verifies offline, and rows edited, deleted, reordered or
 * rewritten directly in SurrealDB are found and located — by `plans audit verify --live`, by the
 * doctor, and in an export.
 */

const BIN = fileURLToPath(new URL('../../../bin/plans.js', import.meta.url));
let stack: Stack;
// It tampers with stored events on purpose.
tampersWithStoredEvents();
beforeAll(async () => {
  stack = await startTestStack();
}, 120_000);
afterAll(async () => stack?.stop());

interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

function cli(token: string | undefined, ...args: string[]): Promise<CliResult> {
  return new Promise((resolve) =>
    execFile(
      process.execPath,
      [BIN, ...args],
      { env: { ...process.env, PLANS_API_URL: stack.apiUrl, PLANS_TOKEN: token ?? '' }, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => resolve({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    ),
  );
}

/** An export's lines, parsed as the CLI reads them. */
async function linesOf(text: string): Promise<ExportLine[]> {
  const lines: ExportLine[] = [];
  for await (const line of parseExportLines(text.split('\n'))) lines.push(line);
  return lines;
}

type Decided = { runId: string; status: string; receipt: AuditReceipt | null };

async function pendingRun(org: Organization<string>): Promise<string> {
  const run = await callApi<{ runId: string; status: string }>(stack.apiUrl, org.planner, 'POST', '/v1/plans', {
    threadId: 't-1',
    sourceThreadId: 't-9',
    leadAgentId: 'planner',
    draft: linearDraft(2),
  });
  expect(run.status).toBe('pending-approval');
  return run.runId;
}

async function exported(token: string, ...args: string[]): Promise<string> {
  const result = await cli(token, 'audit', 'export', ...args);
  expect(result).toMatchObject({ code: 0, stderr: '' });
  return result.stdout;
}

function verifyFile(text: string, ...args: string[]): Promise<CliResult> {
  const file = join(tempDir('audit-'), 'audit.jsonl');
  writeFileSync(file, text);
  return cli(undefined, 'audit', 'verify', file, ...args);
}

const live = (org: Organization<string>) =>
  callApi<{ ok: boolean; break: { position: number; problem: string; message: string } | null; signedThrough: number | null }>(
    stack.apiUrl,
    org.admin,
    'GET',
    '/v1/audit/verify',
  );

/** The organization's stored events in feed order, as rows. */
async function rows(organizationId: string): Promise<Array<Record<string, unknown>>> {
  const [found] = await runQuery<[Array<Record<string, unknown>>]>(
    stack.db,
    'SELECT * FROM plan_event WHERE organizationId = $organizationId ORDER BY feedSeq;',
    { organizationId },
  );
  return found;
}

it('answers every decision with a receipt signed by the organization, and exports a record that verifies offline', async () => {
  const org = await organizationWith(stack, ['bob']);
  const approved = await pendingRun(org);
  const rejected = await pendingRun(org);

  const approval = await callApi<Decided>(stack.apiUrl, org.alice, 'POST', `/v1/plans/${approved}/approve`, {});
  const rejection = await callApi<Decided>(stack.apiUrl, org.bob, 'POST', `/v1/plans/${rejected}/reject`, { reason: 'not now' });
  for (const [decided, by] of [
    [approval, 'alice'],
    [rejection, 'bob'],
  ] as const) {
    const receipt = decided.receipt!;
    expect(receipt.event.runId).toBe(decided.runId);
    // The receipt names the decider's own event, and a head at or after it, signed with a key the organization lists.
    const [event] = (await rows(org.organizationId)).filter(
      (row) => row.runId === decided.runId && row.sequence === receipt.event.sequence,
    );
    expect(event).toMatchObject({ emittedBy: by, feedSeq: receipt.position, hash: receipt.hash });
    const head = receipt.head as SignedHead;
    expect(head.position).toBeGreaterThanOrEqual(receipt.position);
    const keys = await callApi<Array<{ keyId: string; publicKey: string }>>(stack.apiUrl, org.alice, 'GET', '/v1/audit/keys');
    const key = keys.find((candidate) => candidate.keyId === head.keyId)!;
    const publicKey = createPublicKey({ key: Buffer.from(key.publicKey, 'base64'), format: 'der', type: 'spki' });
    expect(verify(null, Buffer.from(headStatement(head)), publicKey, Buffer.from(head.signature, 'base64'))).toBe(true);
  }
  // The CLI's --json answer carries it too.
  const third = await pendingRun(org);
  const cliApproval = await cli(org.alice, 'approve', third, '--json');
  expect(JSON.parse(cliApproval.stdout).receipt).toMatchObject({ event: { runId: third }, head: { keyId: expect.any(String) } });
  await eventually(`run ${approved} to complete`, async () =>
    (await callApi<{ status: string }>(stack.apiUrl, org.alice, 'GET', `/v1/plans/${approved}`)).status === 'completed' ? true : undefined,
  );

  // Export (an admin), verify offline: every event of the organization, in order, covered by a signed head.
  const text = await exported(org.admin);
  const lines = await linesOf(text);
  const events = lines.filter((line) => line.kind === 'event');
  expect(events.map((line) => line.position)).toEqual((await rows(org.organizationId)).map((row) => row.feedSeq));
  const verified = await verifyFile(text);
  expect(verified).toMatchObject({ code: 0 });
  expect(verified.stdout).toMatch(new RegExp(`^The audit record holds: organization ${org.organizationId}, positions 1–${events.length}`));
  // The decider's receipt is in it, as signed; a receipt of another hash is not.
  const receiptFile = join(tempDir('receipt-'), 'receipt.json');
  writeFileSync(receiptFile, JSON.stringify(approval));
  expect(await verifyFile(text, '--receipt', receiptFile)).toMatchObject({ code: 0 });
  writeFileSync(receiptFile, JSON.stringify({ ...approval.receipt, hash: '0'.repeat(64) }));
  expect((await verifyFile(text, '--receipt', receiptFile)).code).toBe(10);
  // Keys pinned: the organization's passes, another id is refused.
  const [{ keyId }] = await callApi<Array<{ keyId: string }>>(stack.apiUrl, org.admin, 'GET', '/v1/audit/keys');
  expect(await verifyFile(text, '--key', keyId!)).toMatchObject({ code: 0 });
  expect(await verifyFile(text, '--key', 'ffffffffffffffff')).toMatchObject({
    code: 10,
    stdout: expect.stringContaining('not a trusted one'),
  });

  // One run's export: its events in full, the others as links, still verified end to end.
  const runExport = await linesOf(await exported(org.admin, '--run', approved));
  expect(
    runExport
      .filter((line) => line.kind === 'event')
      .every((line) => (line as Extract<ExportLine, { kind: 'event' }>).event.runId === approved),
  ).toBe(true);
  expect(runExport.some((line) => line.kind === 'link')).toBe(true);
  expect(await verifyFile(runExport.map((line) => JSON.stringify(line)).join('\n'))).toMatchObject({ code: 0 });
  // A window by position: the anchor before it, links after it up to the head that covers it.
  const window = await exported(org.admin, '--from', '3', '--to', '5');
  expect((await linesOf(window)).filter((line) => line.kind === 'event').map((line) => line.position)).toEqual([3, 4, 5]);
  expect(await verifyFile(window)).toMatchObject({ code: 0 });

  expect(await live(org)).toMatchObject({ ok: true, break: null });
});

it('is an admin’s (or the operator’s) to export and verify, and shows an organization only its own record', async () => {
  const org = await organizationWith(stack);
  const other = await organizationWith(stack);
  await pendingRun(org);
  await pendingRun(other);
  for (const token of [org.planner, org.alice]) {
    expect(await askApi(stack.apiUrl, token, 'GET', '/v1/audit/export')).toMatchObject({ status: 403 });
    expect(await askApi(stack.apiUrl, token, 'GET', '/v1/audit/verify')).toMatchObject({ status: 403 });
    expect(await askApi(stack.apiUrl, token, 'POST', '/v1/audit/keys/rotate')).toMatchObject({ status: 403 });
  }
  expect((await cli(org.planner, 'audit', 'export')).code).toBe(3);
  expect(await askApi(stack.apiUrl, '', 'GET', '/v1/audit/export')).toMatchObject({ status: 401 });
  // Naming another organization is refused, not answered.
  expect(await askApi(stack.apiUrl, org.admin, 'GET', `/v1/audit/export?organizationId=${other.organizationId}`)).toMatchObject({
    status: 403,
  });
  // The operator exports any organization it names, and nothing without one; it still verifies nothing else.
  expect((await cli(stack.operatorToken, 'audit', 'export')).code).toBe(2);
  const byOperator = await exported(stack.operatorToken, '--org', other.organizationId);
  expect(await verifyFile(byOperator)).toMatchObject({ code: 0 });
  expect(await askApi(stack.apiUrl, stack.operatorToken, 'GET', '/v1/audit/verify')).toMatchObject({ status: 403 });
  // An organization with nothing chained yet exports a record that says so, signed, and verifies.
  const empty = await organizationWith(stack);
  expect(await verifyFile(await exported(empty.admin))).toMatchObject({ code: 0, stdout: expect.stringContaining('no chained events') });
  // Only the organization's own events.
  const mine = await linesOf(await exported(org.admin));
  expect(
    mine
      .filter((line) => line.kind === 'event')
      .every((line) => (line as Extract<ExportLine, { kind: 'event' }>).event.organizationId === org.organizationId),
  ).toBe(true);
  // A receipt of another organization's run is not found.
  const [theirs] = await rows(other.organizationId);
  expect(await askApi(stack.apiUrl, org.admin, 'GET', `/v1/plans/${String(theirs!.runId)}/receipt?sequence=1`)).toMatchObject({
    status: 404,
  });
  // A rotation keeps the old key: the record signed before still verifies, and heads from now on use the new one.
  const rotated = await callApi<{ keyId: string }>(stack.apiUrl, org.admin, 'POST', '/v1/audit/keys/rotate');
  await pendingRun(org);
  const after = await linesOf(await exported(org.admin));
  expect(after.filter((line) => line.kind === 'key')).toHaveLength(2);
  expect(after.filter((line) => line.kind === 'head').at(-1)).toMatchObject({ keyId: rotated.keyId });
  expect(await verifyFile(after.map((line) => JSON.stringify(line)).join('\n'))).toMatchObject({ code: 0 });
});

it('finds and locates events edited, deleted, reordered or rewritten directly in SurrealDB', async () => {
  const org = await organizationWith(stack);
  for (let index = 0; index < 3; index++) {
    const runId = await pendingRun(org);
    await callApi(stack.apiUrl, org.alice, 'POST', `/v1/plans/${runId}/approve`, {});
  }
  // Sign the head as it is (an export does), then tamper with what is stored.
  await exported(org.admin);
  const stored = await rows(org.organizationId);
  const target = stored[4]!;
  const position = target.feedSeq as number;
  const id = target.id as RecordId;
  const expectBreak = async (problem: string, at: number) => {
    const report = await live(org);
    expect(report).toMatchObject({ ok: false, break: { position: at, problem } });
    const doctor = await callApi<{ audit: { ok: boolean; break: { position: number } } }>(
      stack.apiUrl,
      org.admin,
      'POST',
      '/v1/doctor',
      {},
    );
    expect(doctor.audit).toMatchObject({ ok: false, break: { position: at } });
    // An export of the tampered store names the same position, offline.
    const result = await verifyFile(await exported(org.admin));
    expect(result.code).toBe(10);
    expect(result.stdout).toContain(`does not hold at position ${at}`);
  };
  const expectHolds = async () => expect(await live(org)).toMatchObject({ ok: true, break: null });

  // 1. Edited: who decided.
  await runQuery(stack.db, "UPDATE $id SET emittedBy = 'mallory';", { id });
  await expectBreak('changed', position);
  await runQuery(stack.db, 'UPDATE $id SET emittedBy = $by;', { id, by: target.emittedBy });
  await expectHolds();

  // 2. Deleted.
  await runQuery(stack.db, 'DELETE $id;', { id });
  await expectBreak('removed', position);
  await runQuery(stack.db, 'CREATE $id CONTENT $row;', { id, row: { ...target, id: undefined } });
  await expectHolds();

  // 3. Reordered: two neighbours swap places (their hashes with them).
  const next = stored[5]!;
  await runQuery(stack.db, 'BEGIN; UPDATE $a SET feedSeq = -1; UPDATE $b SET feedSeq = $pa; UPDATE $a SET feedSeq = $pb; COMMIT;', {
    a: id,
    b: next.id,
    pa: position,
    pb: next.feedSeq,
  });
  await expectBreak('changed', position);
  await runQuery(stack.db, 'BEGIN; UPDATE $b SET feedSeq = -1; UPDATE $a SET feedSeq = $pa; UPDATE $b SET feedSeq = $pb; COMMIT;', {
    a: id,
    b: next.id,
    pa: position,
    pb: next.feedSeq,
  });
  await expectHolds();

  // 4. Rewritten by someone who knows the formulas: the message changed and every hash after it recomputed,
  //    the feed's head too. Each event matches its hash; the signed head no longer does.
  const forged: Record<string, unknown> = { ...target, message: 'Approved by someone else.' };
  let previous = position === 1 ? '0'.repeat(64) : (stored[3]!.hash as string);
  const rewritten = [forged, ...stored.slice(5)].map((row): Record<string, unknown> => {
    const hash = chainHash(previous, digestOf(row.feedSeq as number, canonicalJson(auditBodyOf(row))));
    previous = hash;
    return { ...row, hash };
  });
  for (const row of rewritten) await runQuery(stack.db, 'UPDATE $id CONTENT $row;', { id: row.id, row: { ...row, id: undefined } });
  await runQuery(stack.db, 'UPDATE $feed SET head = $head;', { feed: new RecordId('plan_feed', org.organizationId), head: previous });
  const report = await live(org);
  expect(report).toMatchObject({ ok: false, break: { problem: 'head' } });
  expect(report.break!.position).toBeGreaterThanOrEqual(position);
  expect(report.break!.message).toMatch(/after position \d+ and up to \d+ was changed/);

  // 5. …and then removes the heads that no longer match, and points the feed's last head at the one before:
  //    the heads chain, so the next one names a head that is gone — and the signer refuses to bless the rewrite.
  const [heads] = await runQuery<[Array<{ position: number; hash: string }>]>(
    stack.db,
    'SELECT position, hash FROM plan_audit_head WHERE organizationId = $organizationId ORDER BY position;',
    { organizationId: org.organizationId },
  );
  const kept = heads.filter((head) => head.position < position);
  await runQuery(stack.db, 'DELETE plan_audit_head WHERE organizationId = $organizationId AND position >= $position;', {
    organizationId: org.organizationId,
    position,
  });
  await runQuery(stack.db, 'UPDATE $feed SET lastHead = $last;', {
    feed: new RecordId('plan_feed', org.organizationId),
    last: kept.at(-1) ? { position: kept.at(-1)!.position, hash: kept.at(-1)!.hash } : undefined,
  });
  expect(await live(org)).toMatchObject({ ok: false, break: { problem: 'head' } });
  expect(await askApi(stack.apiUrl, org.admin, 'GET', '/v1/audit/export')).toMatchObject({ status: 500 });
});

it('refuses a record whose events were stripped of their hashes to pass as stored before the chain', async () => {
  const org = await organizationWith(stack);
  const runId = await pendingRun(org);
  await callApi(stack.apiUrl, org.alice, 'POST', `/v1/plans/${runId}/approve`, {});
  const lines = await linesOf(await exported(org.admin));
  const stripped = lines.map((line) =>
    line.kind === 'event' ? ({ kind: 'unchained', position: line.position, event: line.event } as ExportLine) : line,
  );
  const withoutHeader = stripped.map((line) => (line.kind === 'audit-export' ? { ...line, chainedFrom: null } : line));
  for (const forged of [stripped, withoutHeader])
    expect((await verifyFile(forged.map((line) => JSON.stringify(line)).join('\n'))).code).toBe(10);
  // Cut short after a head: the signed end is missing.
  const cut = lines.slice(0, lines.findIndex((line) => line.kind === 'head') + 1);
  expect((await verifyFile(cut.map((line) => JSON.stringify(line)).join('\n'))).stdout).toContain('no signed end');
});

it('names the first bad line of an export changed after it was written', async () => {
  const org = await organizationWith(stack);
  const runId = await pendingRun(org);
  await callApi(stack.apiUrl, org.alice, 'POST', `/v1/plans/${runId}/approve`, {});
  const lines = await linesOf(await exported(org.admin));
  const text = (changed: ExportLine[]) => changed.map((line) => JSON.stringify(line)).join('\n');
  const eventAt = (index: number) => lines.findIndex((line, at) => line.kind === 'event' && at >= index);
  const third = eventAt(0) + 2;
  const position = lines[third]!.kind === 'event' ? (lines[third] as { position: number }).position : -1;

  const edited = structuredClone(lines);
  (edited[third] as Extract<ExportLine, { kind: 'event' }>).event.message = 'changed';
  expect((await verifyFile(text(edited))).stdout).toContain(`does not hold at position ${position} (changed)`);

  const removed = lines.filter((_, index) => index !== third);
  expect((await verifyFile(text(removed))).stdout).toContain(`does not hold at position ${position} (removed)`);

  const swapped = structuredClone(lines);
  [swapped[third], swapped[third + 1]] = [swapped[third + 1]!, swapped[third]!];
  expect((await verifyFile(text(swapped))).code).toBe(10);

  const inserted = [
    ...lines.slice(0, third),
    { ...lines[third]!, event: { ...(lines[third] as { event: object }).event, organizationId: 'elsewhere' } } as ExportLine,
    ...lines.slice(third + 1),
  ];
  expect((await verifyFile(text(inserted))).stdout).toContain(`does not hold at position ${position} (inserted)`);

  const forgedHead = lines.map((line) => (line.kind === 'head' ? { ...line, signature: Buffer.alloc(64).toString('base64') } : line));
  expect((await verifyFile(text(forgedHead))).stdout).toContain('(signature)');

  const unsigned = lines.filter((line) => line.kind !== 'head');
  expect((await verifyFile(text(unsigned))).stdout).toContain('(unsigned)');

  expect((await cli(undefined, 'audit', 'verify', join(tempDir('none-'), 'missing.jsonl'))).code).toBe(2);
});

it('a process without the secret key fails on the key before it walks the unsigned chain', async () => {
  const org = await organizationWith(stack);
  // The newest event, past the last signed head (the stack signs every few seconds: then one more run, unsigned yet).
  let newest: Record<string, unknown> | undefined;
  for (let tries = 0; newest === undefined && tries < 5; tries++) {
    await pendingRun(org);
    const last = (await rows(org.organizationId)).at(-1)!;
    const [signed] = await runQuery<[number | null]>(stack.db, 'RETURN (SELECT VALUE lastHead.position FROM ONLY $feed);', {
      feed: new RecordId('plan_feed', org.organizationId),
    });
    if ((signed ?? -1) < (last.feedSeq as number)) newest = last;
  }
  await runQuery(stack.db, "UPDATE $id SET emittedBy = 'mallory';", { id: newest!.id });
  try {
    // Walking first, it would find this break — and walk from the last head every time, from the first event when none is signed.
    await expect(new PlanStore(stack.db).audit.signHead(org.organizationId)).rejects.toThrow(/no secret key/);
  } finally {
    await runQuery(stack.db, 'UPDATE $id SET emittedBy = $by;', { id: newest!.id, by: newest!.emittedBy });
  }
});
