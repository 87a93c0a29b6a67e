import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import type { Command } from 'commander';

import { PlanError } from '../../domain/errors.js';
import { inboxUrlOf } from '../../mcp/resources.js';
import { planMcpServer } from '../../mcp/server.js';
import { feedWatchOverHttp } from '../../mcp/watch.js';
import { ApiClient } from '../api-client.js';
import { serving } from '../start.js';
import type { CommandContext, Options } from './context.js';

/**
 * `plans mcp`: the plan tools over MCP on stdin/stdout, for hosts that launch a command. It acts
 * through the plans API as the agent `PLANS_TOKEN` (or `--token`) names; stdout carries the
 * protocol alone, everything else goes to stderr. It ends when the host closes stdin.
 */
export function registerMcp(program: Command, { exitCode }: CommandContext): void {
  program
    .command('mcp')
    .description(
      'Serve the plan tools over MCP on stdio, for hosts that launch a command (Claude, Cursor, VS Code, …): the agent is the one PLANS_TOKEN names; the API is --api (PLANS_API_URL). Streamable HTTP is served by the API itself at /mcp.',
    )
    .addHelpText(
      'after',
      '\nExample host entry: {"command": "plans", "args": ["mcp"], "env": {"PLANS_TOKEN": "…", "PLANS_API_URL": "http://127.0.0.1:8787"}}',
    )
    .action(async (_flags: unknown, command: Command) => {
      const options = command.optsWithGlobals<Options>();
      const api = new ApiClient(options.api, options.token);
      try {
        if (!options.token)
          throw new PlanError('unauthorized', 'plans mcp acts as an agent: set PLANS_TOKEN (or --token) to its API token.');
        const me = await api.request<{ id: string; kind: string; organizationId: string }>('GET', '/v1/me');
        process.stderr.write(`plans mcp: serving MCP on stdio as ${me.kind} ${me.id} of ${me.organizationId}, through ${options.api}\n`);
      } catch (error) {
        if (!(error instanceof PlanError)) throw error;
        process.stderr.write(`Error: ${error.message}\n`);
        process.exitCode = exitCode(error.code);
        return;
      }
      const publicUrl = process.env.PLANS_PUBLIC_URL || options.api;
      const server = planMcpServer({
        api,
        inboxUrl: (runId) => inboxUrlOf(publicUrl, runId),
        watch: feedWatchOverHttp(options.api, options.token),
        log: (message) => process.stderr.write(`plans mcp: ${message}\n`),
      });
      serving.now = true;
      const transport = new StdioServerTransport();
      // The host closing stdin ends the session, and this process with it.
      process.stdin.once('end', () => void server.close().finally(() => process.exit(0)));
      await server.connect(transport);
    });
}
