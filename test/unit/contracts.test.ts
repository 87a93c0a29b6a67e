import fc from 'fast-check';

import { parseAbort, parseDecision, parseNodeCompletion } from '../../domain/decisions.js';
import { AbortSchema, DecisionSchema, NodeCompletionSchema } from '../../domain/requests.js';

/**
 * The workflow checks the messages people send it by hand (zod stays out of its sandbox); every
 * other part reads them through the zod contracts in domain/requests.ts. The two must give the
 * same answer for every payload: accepted by both with the same value, or refused by both. Field
 * by field, each payload mixes valid values, wrong ones and absent ones, plus unknown keys.
 */

const RUNS = 400;

const id = fc.oneof(
  fc.constantFrom('alice', 'org-1', 't-9', 'a.b:c@d-e_f'),
  fc.constantFrom('', ' alice', '-lead', 'x'.repeat(129), 'bad id'),
  fc.integer(),
);
const text = fc.oneof(
  fc.constantFrom('Looks fine.', '  padded  ', 'x'.repeat(2000)),
  fc.constantFrom('', '   ', 'x'.repeat(20_001)),
  fc.boolean(),
);
const credential = fc.oneof(
  fc.constant({ kind: 'token', id: 'tok_0123abcd' }),
  fc.constant({ kind: 'link', id: '-nonce_A1', provedBy: { kind: 'subscription', id: 'sub-1' } }),
  fc.constant({ kind: 'link', id: 'n', provedBy: { kind: 'token', id: 'tok_1' } }),
  fc.constantFrom(
    { kind: 'temporal' },
    { kind: 'expiry' },
    { kind: 'token' },
    { kind: 'token', id: 'has space' },
    { kind: 'link', id: 'n' },
    'token',
    null,
  ),
);
const extra = fc.oneof(fc.constant({}), fc.constant({ unexpected: 1 }), fc.constant({ runId: 'r-1' }));

/** A payload with each field present (valid or not) or absent. */
function payloads(fields: Record<string, fc.Arbitrary<unknown>>): fc.Arbitrary<Record<string, unknown>> {
  const entries = Object.entries(fields).map(([key, value]) =>
    fc.option(value, { nil: undefined }).map((chosen) => [key, chosen] as const),
  );
  return fc
    .tuple(fc.tuple(...entries), extra)
    .map(([chosen, more]) => ({ ...Object.fromEntries(chosen.filter(([, value]) => value !== undefined)), ...more }));
}

const actor = { organizationId: id, threadId: id, emittedBy: id, credential };

function agree(
  parse: (payload: unknown) => { value?: unknown },
  schema: { safeParse(value: unknown): { success: boolean; data?: unknown } },
  arbitrary: fc.Arbitrary<unknown>,
): void {
  fc.assert(
    fc.property(arbitrary, (payload) => {
      const byHand = parse(payload).value;
      const byZod = schema.safeParse(payload);
      expect([payload, byHand !== undefined]).toEqual([payload, byZod.success]);
      if (byZod.success) expect(byHand).toEqual(byZod.data);
    }),
    { numRuns: RUNS },
  );
}

it('a decision: the workflow’s parser and the zod contract agree on every payload', () => {
  const resolution = fc.constantFrom('rejected', 'changes-requested', 'approved', 3);
  const revision = fc.constantFrom('3b9e1c0a7d2f4e65', 'abcdef12', 'ABCDEF12', 'abc', 12345678);
  agree(parseDecision, DecisionSchema, payloads({ ...actor, reason: text, resolution, expectedRevision: revision }));
});

it('a person’s step completion: the same', () => {
  const nodeId = fc.constantFrom('review', '', 'x'.repeat(65), 7);
  const output = fc.oneof(fc.jsonValue({ maxDepth: 3 }), fc.constant('x'.repeat(70_000)));
  agree(parseNodeCompletion, NodeCompletionSchema, payloads({ ...actor, nodeId, output }));
});

it('an abort: the same', () => {
  agree(parseAbort, AbortSchema, payloads({ ...actor, reason: text }));
});

it('refuses the same non-objects', () => {
  for (const payload of [null, 'approve', 42, [], undefined]) {
    expect([payload, parseDecision(payload).value === undefined]).toEqual([payload, !DecisionSchema.safeParse(payload).success]);
  }
});
