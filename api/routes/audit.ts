import { Readable } from 'node:stream';

import { z } from 'zod';

import { isPositionOrTime } from '../../audit/chain.js';
import { PlanError } from '../../domain/errors.js';
import { errors, json } from '../openapi.js';
import { AuditKeySchema, AuditVerifySchema, ReceiptSchema, RunParamsSchema } from '../schemas.js';
import type { Api } from '../types.js';

const tags = ['audit'];

/** A window bound: a feed position (digits) or an ISO 8601 time. */
const Bound = z
  .string()
  .refine(isPositionOrTime, 'must be a position (digits) or an ISO 8601 time')
  .transform((value) => (/^\d+$/.test(value) ? Number(value) : new Date(value).toISOString()))
  .optional();

/** The organization's audit chain: export, verification, keys, receipts (docs/auditing.md). */
export function auditRoutes(api: Api): void {
  api.get(
    '/v1/audit/export',
    {
      schema: {
        operationId: 'exportAudit',
        summary:
          'The organization’s audit chain as JSON lines, streamed: events, hashes, signed heads and public keys (admins; the operator names the organization)',
        tags,
        querystring: z.object({
          organizationId: z.string().optional(),
          from: Bound.describe('First position, or first time, to export (default: the chain’s start)'),
          to: Bound.describe('Last position, or last time (default: the head, signed at the start of the export)'),
          run: z.string().optional().describe('Only this run’s events; the others between are links (digest and hash)'),
        }),
        produces: ['application/x-ndjson'],
        response: {
          200: z.string().describe('JSON lines (audit/chain.ts ExportLine), verified by `plans audit verify FILE`'),
          ...errors(400, 401, 403),
        },
      },
    },
    async (request, reply) => {
      const { organizationId, from, to, run } = request.query;
      const plans = request.acting(organizationId);
      const lines = plans.audit.exportLines({
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(run ? { runId: run } : {}),
      });
      // The first line is read before answering (it signs the head), so a chain that will not be signed is an error answer, not a broken stream.
      const first = await lines.next();
      reply.type('application/x-ndjson; charset=utf-8').header('cache-control', 'no-store');
      const stream = async function* () {
        if (!first.done) yield `${JSON.stringify(first.value)}\n`;
        for await (const line of lines) yield `${JSON.stringify(line)}\n`;
      };
      // A stream is sent as it comes, never through the answer's serializer (the schema documents the lines).
      return reply.send(Readable.from(stream()) as unknown as string);
    },
  );

  api.get(
    '/v1/audit/verify',
    {
      schema: {
        operationId: 'verifyAudit',
        summary: 'Walk the organization’s stored audit chain and report the first break, located (admins; `plans audit verify --live`)',
        tags,
        response: { 200: json('What the walk found', AuditVerifySchema), ...errors(401, 403) },
      },
    },
    async (request) => request.plans.audit.verify(),
  );

  api.get(
    '/v1/audit/keys',
    {
      schema: {
        operationId: 'auditKeys',
        summary: 'The organization’s audit signing keys, public parts (retired ones kept: the heads they signed still verify)',
        tags,
        response: { 200: json('Public keys, oldest first', z.array(AuditKeySchema)), ...errors(401) },
      },
    },
    async (request) => request.plans.audit.keys(),
  );

  api.post(
    '/v1/audit/keys/rotate',
    {
      schema: {
        operationId: 'rotateAuditKey',
        summary: 'Retire the organization’s signing key for a new one (admins)',
        tags,
        response: { 200: json('The new key', AuditKeySchema), ...errors(401, 403) },
      },
    },
    async (request) => request.plans.audit.rotateKey(),
  );

  api.get(
    '/v1/plans/:runId/receipt',
    {
      schema: {
        operationId: 'planReceipt',
        summary: 'A receipt of one of the run’s events: by default the last one the caller emitted',
        tags,
        params: RunParamsSchema,
        querystring: z.object({
          sequence: z.coerce.number().int().min(1).optional().describe('The event’s sequence in the run'),
          by: z.string().max(200).optional().describe('The last event this principal emitted (default: the caller)'),
        }),
        response: { 200: json('The receipt', ReceiptSchema), ...errors(400, 401, 404) },
      },
    },
    async (request) => {
      const { sequence, by } = request.query;
      const receipt = await request.plans.audit.receipt(request.params.runId, {
        ...(sequence !== undefined ? { sequence } : {}),
        ...(by ? { by } : {}),
      });
      if (!receipt) throw new PlanError('not-found', `Run ${request.params.runId} has no such event in the audit chain.`);
      return receipt;
    },
  );
}
