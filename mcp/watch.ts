import type { OrganizationPlans } from '../client/organization-plans.js';
import { pause } from '../tools/pause.js';
import type { FeedWatch } from './server.js';

/** How often the in-process watch reads the feed, and checks the session's token still stands. */
const POLL_MS = 1000;
/** After a dropped connection, the network watch connects again after this. */
const RECONNECT_MS = 1000;

/**
 * The organization's feed read in process (the `/mcp` route): from its end when the watch
 * starts, while the session's token still signs in (revoking it ends the watch within a poll).
 */
export function feedWatchInProcess(feed: OrganizationPlans['feed'], stillSignedIn: () => Promise<boolean>): FeedWatch {
  return async (onRun, signal) => {
    let cursor = await feed.position();
    while (!signal.aborted) {
      if (!(await stillSignedIn())) throw new Error('the token of the session was revoked');
      for (let more = true; more && !signal.aborted;) {
        const page = await feed.read({ after: cursor, limit: 500 });
        for (const event of page.events) onRun(event.runId);
        cursor = page.through;
        more = page.more;
      }
      await pause(POLL_MS, signal);
    }
  };
}

/** Each server-sent event's `id`, `event` and `data` lines, as they arrive. */
async function* serverSentEvents(body: ReadableStream<Uint8Array>): AsyncGenerator<{ id?: string; event?: string; data: string }> {
  const decoder = new TextDecoder();
  let buffer = '';
  let fields: { id?: string; event?: string; data: string } = { data: '' };
  for await (const chunk of body) {
    buffer += decoder.decode(chunk, { stream: true });
    for (let end = buffer.indexOf('\n'); end >= 0; end = buffer.indexOf('\n')) {
      const line = buffer.slice(0, end).replace(/\r$/, '');
      buffer = buffer.slice(end + 1);
      if (line === '') {
        if (fields.data !== '' || fields.event) yield fields;
        fields = { data: '' };
        continue;
      }
      const colon = line.indexOf(':');
      if (colon === 0) continue; // a comment (keep-alive)
      const name = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (name === 'data') fields.data += fields.data === '' ? value : `\n${value}`;
      else if (name === 'id' || name === 'event') fields[name] = value;
    }
  }
}

/**
 * The organization's live feed over the network (`plans mcp` on stdio): `GET /v1/events` with
 * the agent's token, resumed from the last event after a dropped connection; a revoked token ends it.
 */
export function feedWatchOverHttp(apiUrl: string, token: string | undefined): FeedWatch {
  return async (onRun, signal) => {
    let lastEventId: string | undefined;
    let failures = 0;
    while (!signal.aborted) {
      try {
        const response = await fetch(new URL('/v1/events', apiUrl), {
          headers: {
            accept: 'text/event-stream',
            ...(token ? { authorization: `Bearer ${token}` } : {}),
            ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
          },
          signal,
        });
        if (response.status === 401) throw new Error('the API token was refused');
        if (!response.ok || !response.body) throw new Error(`the live feed answered ${response.status}`);
        for await (const event of serverSentEvents(response.body)) {
          if (event.event === 'revoked') throw new Error('the API token was revoked');
          if (event.id) lastEventId = event.id;
          const runId = (JSON.parse(event.data) as { runId?: unknown }).runId;
          if (typeof runId === 'string') onRun(runId);
        }
        failures = 0;
      } catch (error) {
        if (signal.aborted) return;
        if (/refused|revoked/.test((error as Error).message)) throw error;
        failures++;
      }
      // Again at once after a clean end; after failures, later and later (at most a minute apart).
      await pause(Math.min(RECONNECT_MS * 2 ** failures, 60_000), signal);
    }
  };
}
