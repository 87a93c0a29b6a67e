import { z } from 'zod';

type Json = Record<string, unknown>;

/** `{$ref: '#/$defs/N'}` replaced by the definition it names, everywhere (the schemas here have no cycles). */
function inline(node: unknown, defs: Json): unknown {
  if (Array.isArray(node)) return node.map((each) => inline(each, defs));
  if (typeof node !== 'object' || node === null) return node;
  const { $ref, ...rest } = node as Json;
  const named = typeof $ref === 'string' && $ref.startsWith('#/$defs/') ? defs[$ref.slice('#/$defs/'.length)] : undefined;
  const merged = named ? { ...(named as Json), ...rest } : (node as Json);
  return Object.fromEntries(Object.entries(merged).map(([key, value]) => [key, inline(value, defs)]));
}

/**
 * A zod schema as one self-contained JSON Schema object: no dialect line, no `$defs` (schemas the
 * OpenAPI document names as components are written out in place), the same whichever modules were
 * loaded first — what MCP lists and the agent SDKs are given.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'input'): Json {
  const { $schema: _dialect, $defs, ...json } = z.toJSONSchema(schema, { io, unrepresentable: 'any' }) as Json;
  return inline(json, ($defs ?? {}) as Json) as Json;
}
