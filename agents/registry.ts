import { echoAgent } from './echo.js';
import { httpAgent } from './http.js';
import type { AgentRegistry } from './types.js';

/**
 * The agents a stack runs when given none: `echo`, plus one HTTP agent per entry of
 * `PLANS_HTTP_AGENTS` (`name=url,other=url`).
 */
export function defaultAgents(env: NodeJS.ProcessEnv = process.env): AgentRegistry {
  const agents: Record<string, AgentRegistry[string]> = { echo: echoAgent };
  for (const entry of (env.PLANS_HTTP_AGENTS ?? '').split(',').map((part) => part.trim()).filter(Boolean)) {
    const [name, url] = entry.split(/=(.*)/s);
    if (!name || !url) throw new Error(`PLANS_HTTP_AGENTS entry "${entry}" is not name=url.`);
    agents[name] = httpAgent(url);
  }
  return agents;
}
