/** Size limits of drafts and ids, shared by the schemas and the workflow (kept free of zod). */
export const LIMITS = {
  maxNodes: 2000,
  maxTitle: 200,
  maxObjective: 4000,
  maxInstructions: 20_000,
  maxId: 128,
} as const;
