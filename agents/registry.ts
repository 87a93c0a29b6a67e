import { echoAgent } from './echo.js';
import { httpAgent } from './http.js';
import type { AgentRegistry } from './types.js';

/** The agents a stack runs when given none: `echo`, plus one HTTP agent per configured `{name, url}` (`PLANS_HTTP_AGENTS`). */
export function defaultAgents(httpAgents: ReadonlyArray<{ name: string; url: string }> = []): AgentRegistry {
  const agents: Record<string, AgentRegistry[string]> = { echo: echoAgent };
  for (const { name, url } of httpAgents) agents[name] = httpAgent(url);
  return agents;
}
