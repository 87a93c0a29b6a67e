import { PlanError } from '../domain/errors.js';
import { type PlansApi, refusalFromAnswer } from '../tools/plans-api.js';

/** Where `plans start` serves the API by default: what the CLI, `plans mcp` and the agent-SDK tools call without PLANS_API_URL. */
export const DEFAULT_API_URL = 'http://127.0.0.1:8787';

/** Talks to the plans HTTP API; refusals come back as PlanErrors with the API's code and message. */
export class ApiClient implements PlansApi {
  /** The last answer's X-Next-Cursor: where the next page of a list starts (null at the end). */
  nextCursor: string | null = null;

  constructor(
    readonly baseUrl: string,
    private readonly token?: string,
  ) {}

  async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const answer = await this.send<T>(method, path, body);
    this.nextCursor = answer.nextCursor;
    return answer.body;
  }

  /** A streamed answer's body (`GET /v1/audit/export`), once the API said yes; a refusal is a PlanError as elsewhere. */
  async stream(path: string): Promise<ReadableStream<Uint8Array>> {
    const response = await this.fetch('GET', path);
    if (!response.ok) {
      const text = await response.text();
      let payload: unknown;
      try {
        payload = JSON.parse(text);
      } catch {
        payload = undefined;
      }
      throw refusalFromAnswer(response.status, payload);
    }
    return response.body!;
  }

  /** The answer's body and the cursor to the next page (PlansApi): what concurrent callers use, since `nextCursor` is the last call's. */
  async send<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<{ body: T; nextCursor: string | null }> {
    const response = await this.fetch(method, path, body);
    const text = await response.text();
    let payload: unknown;
    try {
      payload = text ? JSON.parse(text) : undefined;
    } catch {
      throw new PlanError('unavailable', `The plans API answered ${response.status} with non-JSON: ${text.slice(0, 200)}`);
    }
    if (!response.ok) throw refusalFromAnswer(response.status, payload);
    return { body: payload as T, nextCursor: response.headers.get('x-next-cursor') };
  }

  private async fetch(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<Response> {
    try {
      return await fetch(new URL(path, this.baseUrl), {
        method,
        headers: {
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(this.token ? { authorization: `Bearer ${this.token}` } : {}),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    } catch (error) {
      throw new PlanError(
        'unavailable',
        `Cannot reach the plans API at ${this.baseUrl} (${(error as Error & { cause?: Error }).cause?.message ?? (error as Error).message}). Is \`plans start\` running? Set --api or PLANS_API_URL.`,
      );
    }
  }
}
