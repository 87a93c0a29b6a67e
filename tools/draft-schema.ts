import { AgentExecutorSchema, HumanExecutorSchema, PlanDraftSchema, SystemExecutorSchemas } from '../domain/draft.js';
import { jsonSchemaOf } from './json-schema.js';

/**
 * The plan draft's JSON Schema, from the zod schemas the API validates drafts with: what a model
 * is shown of `draft`, each kind of executor spelled out. (The tools accept any object there and
 * let the API report each problem with its code, as it does for every client.)
 */
export const PLAN_DRAFT_JSON_SCHEMA: Record<string, unknown> = (() => {
  const draft = jsonSchemaOf(PlanDraftSchema) as { properties: { nodes: { items: { properties: Record<string, unknown> } } } };
  draft.properties.nodes.items.properties.executor = {
    description: 'Who does the step: an agent the workers run, a person, or the system (noop, wait, webhook, …)',
    anyOf: [AgentExecutorSchema, HumanExecutorSchema, ...Object.values(SystemExecutorSchemas)].map((schema) => jsonSchemaOf(schema)),
  };
  return draft;
})();
