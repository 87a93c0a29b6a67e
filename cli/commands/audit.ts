import { once } from 'node:events';
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { Readable } from 'node:stream';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';

import type { Command } from 'commander';

import {
  type AuditPublicKey,
  type VerifyReport,
  isPositionOrTime,
  parseExportLines,
  unchainedBreak,
  verifyExport,
} from '../../audit/chain.js';
import { PlanError } from '../../domain/errors.js';
import type { AuditReceipt } from '../../storage/plan-store.js';
import { ApiClient } from '../api-client.js';
import { formatVerifyReport } from '../format.js';
import { type CommandContext, ORG, type Options, readJsonFile, write, writeList } from './context.js';

/** `plans audit verify` found the record changed (or could not prove it): the first bad position is named. */
export const AUDIT_BROKEN_EXIT = 10;

function positionOrTime(value: string): string {
  if (isPositionOrTime(value)) return value;
  throw new PlanError('invalid-input', `"${value}" is neither a position (digits) nor an ISO 8601 time.`);
}

/**
 * `plans audit export|verify|keys|rotate-key|receipt`: the organization's tamper-evident record
 * (docs/auditing.md). `verify FILE` needs no stack: it is the check anyone can run on an export.
 */
export function registerAudit(program: Command, { apiCommand }: CommandContext): void {
  const audit = program
    .command('audit')
    .description('The organization’s audit record: a hash chain of every stored event, signed; export it and verify it anywhere.');

  apiCommand<undefined>(audit, {
    name: 'export',
    description:
      'Write the organization’s audit record as JSON lines to stdout (events, hashes, signed heads, public keys) — an admin’s token, or the operator’s with --org. Verify it with `plans audit verify FILE`.',
    options: (command) =>
      command
        .option(...ORG)
        .option('--from <position|time>', 'first position, or first time (ISO 8601), to export', positionOrTime)
        .option('--to <position|time>', 'last position, or last time', positionOrTime)
        .option('--run <run>', 'only this run’s events (the others between are links: digest and hash only)'),
    request: async (api, options) => {
      const query = new URLSearchParams();
      for (const [flag, field] of [
        ['org', 'organizationId'],
        ['from', 'from'],
        ['to', 'to'],
        ['run', 'run'],
      ] as const) {
        if (typeof options[flag] === 'string') query.set(field, options[flag] as string);
      }
      const body = await api.stream(`/v1/audit/export${query.size ? `?${query}` : ''}`);
      // Waiting for a slow reader (a pipe) rather than holding the whole export in memory.
      for await (const chunk of Readable.fromWeb(body as WebReadableStream<Uint8Array>))
        if (!process.stdout.write(chunk as Buffer)) await once(process.stdout, 'drain');
      return undefined;
    },
    writesOwnOutput: true,
  });

  audit
    .command('verify')
    .description(
      `Check an export offline (no stack, no database) — or the stored record with --live (an admin’s token). Exits 0 when it holds, ${AUDIT_BROKEN_EXIT} naming the first position that was changed, removed, reordered or inserted.`,
    )
    .argument('[file]', 'an export (`plans audit export > audit.jsonl`); - for stdin')
    .option('--live', 'walk the record the API stores instead of a file (the doctor does this too)')
    .option('--key <id...>', 'accept only heads signed by these key ids (pin the keys you trust, from `plans audit keys`)')
    .option('--receipt <file>', 'also check that this receipt (a decision answer’s `receipt`) is in the record, as signed')
    .option('--allow-unchained', 'events without a hash (stored before the chain, on an upgraded installation) are no break')
    .action(async (file: string | undefined, _options: unknown, self: Command) => {
      const options = self.optsWithGlobals<Options & { live?: boolean; key?: string[]; receipt?: string; allowUnchained?: boolean }>();
      let report: VerifyReport & { position?: number };
      if (options.live) {
        if (file) throw new PlanError('invalid-input', 'Give a file or --live, not both.');
        report = await new ApiClient(options.api, options.token).request('GET', '/v1/audit/verify');
      } else {
        if (!file) throw new PlanError('invalid-input', 'Name the export to verify (or - for stdin), or use --live.');
        const receipt = options.receipt ? await readReceipt(options.receipt) : undefined;
        if (file !== '-')
          await access(file).catch((error: Error) =>
            Promise.reject(new PlanError('invalid-input', `Cannot read ${file}: ${error.message}`)),
          );
        // A line at a time: constant memory, whatever the file's size.
        const raw = createInterface({ input: file === '-' ? process.stdin : createReadStream(file), crlfDelay: Infinity });
        try {
          report = await verifyExport(parseExportLines(raw), {
            ...(options.key ? { trustedKeyIds: options.key } : {}),
            ...(receipt ? { receipt } : {}),
            ...(options.allowUnchained ? { allowUnchained: true } : {}),
          });
        } catch (error) {
          throw new PlanError('invalid-input', `${file}: ${(error as Error).message}`);
        }
      }
      // Live, events without a hash are counted by the server; the same rule as for a file.
      if (options.live && report.ok && report.unchained > 0 && !options.allowUnchained)
        report = { ...report, ok: false, break: unchainedBreak(report.unchained) };
      write(options.json ? JSON.stringify(report, null, 2) : formatVerifyReport(report));
      if (!report.ok) process.exitCode = AUDIT_BROKEN_EXIT;
    });

  apiCommand<AuditPublicKey[]>(audit, {
    name: 'keys',
    description: 'The organization’s signing keys (public parts): pin their ids with `plans audit verify --key`.',
    request: (api) => api.request('GET', '/v1/audit/keys'),
    show: (_options, keys) =>
      writeList(
        keys,
        'No signing key yet (one is made with the first signed head).',
        (key) => `${key.keyId}  Ed25519  since ${key.createdAt}${key.retiredAt ? `  retired ${key.retiredAt}` : '  (current)'}`,
      ),
  });

  apiCommand<AuditPublicKey>(audit, {
    name: 'rotate-key',
    description:
      'Retire the organization’s signing key for a new one (an admin’s token); heads signed before keep verifying with the old one.',
    request: (api) => api.request('POST', '/v1/audit/keys/rotate'),
    show: (_options, key) => write(`New signing key ${key.keyId} (the previous one is retired and kept).`),
  });

  apiCommand<AuditReceipt>(audit, {
    name: 'receipt',
    description:
      'A receipt of one of a run’s events — by default the last one you emitted (your decision): its position, hash and the signed head that covers it.',
    args: [['<run>', 'the run']],
    options: (command) => command.option('--event <sequence>', 'the event’s sequence in the run'),
    request: (api, options, [runId]) =>
      api.request(
        'GET',
        `/v1/plans/${encodeURIComponent(runId!)}/receipt${options.event ? `?sequence=${encodeURIComponent(String(options.event))}` : ''}`,
      ),
    show: (_options, receipt) => write(JSON.stringify(receipt, null, 2)),
  });
}

async function readReceipt(file: string): Promise<Pick<AuditReceipt, 'position' | 'hash' | 'event'>> {
  const parsed = await readJsonFile(file, 'Receipt');
  // A whole decision answer carries it as `receipt`.
  const receipt = ((parsed as { receipt?: unknown }).receipt ?? parsed) as Partial<AuditReceipt>;
  if (typeof receipt.position !== 'number' || typeof receipt.hash !== 'string' || typeof receipt.event?.runId !== 'string')
    throw new PlanError('invalid-input', `${file} is not a receipt: it needs a position, a hash and its event.`);
  return { position: receipt.position, hash: receipt.hash, event: receipt.event };
}
