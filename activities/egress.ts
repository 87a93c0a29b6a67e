import { lookup as dnsLookup, type LookupAddress } from 'node:dns';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';

import { ATTR_HTTP_REQUEST_METHOD, ATTR_HTTP_RESPONSE_STATUS_CODE, ATTR_SERVER_ADDRESS } from '@opentelemetry/semantic-conventions';

import { type EgressRules, addressRefusal, destinationOf, forbiddenHeaders, urlRefusal } from '../domain/egress.js';
import { SpanKind, inSpan, withTraceHeaders } from '../tracing/spans.js';

/*
 * The one way the worker calls out on an organization's behalf (webhook steps, subscription
 * deliveries). Every address a host resolves to is checked, and the connection is made to the
 * address checked (the check sits inside the socket's DNS lookup), so a name that resolves
 * elsewhere a second time (DNS rebinding) gains nothing. Redirects are not followed: a 3xx is an
 * answer like any other failure. Answers are read up to a byte limit and within a time limit.
 */

/** A call refused by the egress rules: nothing was sent. */
export class EgressRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EgressRefused';
  }
}

export const DEFAULT_MAX_ANSWER_BYTES = 1024 * 1024;
export const DEFAULT_CALL_TIMEOUT_MS = 30_000;

export interface EgressRequest {
  url: string;
  headers: Record<string, string>;
  body: string;
  rules: EgressRules;
  signal?: AbortSignal;
  /** Longest the whole call may take, answer included. */
  timeoutMs?: number;
  /** Largest answer read; a longer one fails the call. */
  maxAnswerBytes?: number;
  /**
   * How refusals name the destination when its host may not be told (a secret URL: its secret's
   * name); they then leave out the host and the addresses it resolves to.
   */
  shownAs?: string;
  /** The call's span name (`POST notification`, `POST webhook step`). */
  spanName?: string;
}

export interface EgressAnswer {
  status: number;
  ok: boolean;
  text: string;
}

/** A DNS lookup that answers only addresses the rules allow for `destination`, checking all of them. */
function guardedLookup(rules: EgressRules, destination: ReturnType<typeof destinationOf>, shownAs: string | undefined): LookupFunction {
  return (hostname, options, callback) => {
    dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
      if (error) return callback(error, '', 0);
      for (const { address } of addresses) {
        const refusal = addressRefusal(destination, address, rules, shownAs);
        if (refusal) return callback(new EgressRefused(`Egress refused: the call to ${refusal}`), '', 0);
      }
      if (addresses.length === 0) return callback(new Error(`${shownAs ?? hostname} resolves to no address`), '', 0);
      if (options.all) return (callback as unknown as (error: null, addresses: LookupAddress[]) => void)(null, addresses);
      return callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/** What a URL may not be called for, known before any DNS; throws EgressRefused. `shownAs` as `EgressRequest`'s. */
export function checkBeforeCall(url: string, headers: Readonly<Record<string, string>>, rules: EgressRules, shownAs?: string): URL {
  const parsed = new URL(url);
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new EgressRefused(`Egress refused: ${parsed.protocol} is not http(s)`);
  const forbidden = forbiddenHeaders(headers);
  if (forbidden.length > 0)
    throw new EgressRefused(`Egress refused: ${shownAs ?? parsed.host}: headers ${forbidden.join(', ')} may not be set on a call out`);
  const refusal = urlRefusal(parsed.href, rules, shownAs);
  if (refusal) throw new EgressRefused(`Egress refused: the call to ${refusal}`);
  return parsed;
}

/** Reads an answer up to `maxBytes`; a longer one is cut off and fails. */
async function readCapped(response: IncomingMessage, maxBytes: number): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of response) {
    size += (chunk as Buffer).length;
    if (size > maxBytes) {
      response.destroy();
      throw new Error(`answered more than ${maxBytes} bytes`);
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/**
 * POSTs `body` to `url` under the egress rules: refused (EgressRefused, nothing sent) when the
 * rules forbid the host, a header, or any address the host resolves to. Redirects are answers,
 * not followed. Answers the status and the text, read within the limits.
 */
export async function postGuarded(request: EgressRequest): Promise<EgressAnswer> {
  const url = checkBeforeCall(request.url, request.headers, request.rules, request.shownAs);
  // A client span, its traceparent sent along; the host only when it may be told (a secret URL's is part of the secret), never the URL or the body.
  return inSpan(
    request.spanName ?? 'POST',
    {
      kind: SpanKind.CLIENT,
      attributes: { [ATTR_HTTP_REQUEST_METHOD]: 'POST', ...(request.shownAs ? {} : { [ATTR_SERVER_ADDRESS]: url.hostname }) },
    },
    async (span) => {
      const answer = await sendPost(url, { ...request, headers: withTraceHeaders(request.headers) });
      span?.setAttribute(ATTR_HTTP_RESPONSE_STATUS_CODE, answer.status);
      return answer;
    },
  );
}

function sendPost(url: URL, request: EgressRequest): Promise<EgressAnswer> {
  const destination = destinationOf(url);
  const timeout = AbortSignal.timeout(request.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS);
  const signal = request.signal ? AbortSignal.any([request.signal, timeout]) : timeout;
  const maxBytes = request.maxAnswerBytes ?? DEFAULT_MAX_ANSWER_BYTES;
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<EgressAnswer>((resolve, reject) => {
    const outgoing = send(
      url,
      {
        method: 'POST',
        headers: { ...request.headers, 'content-length': Buffer.byteLength(request.body) },
        lookup: guardedLookup(request.rules, destination, request.shownAs),
        // One connection per call: a pooled socket would skip the lookup, and with it the check.
        agent: false,
        signal,
      },
      (response) => {
        readCapped(response, maxBytes).then(
          (text) => {
            const status = response.statusCode ?? 0;
            resolve({ status, ok: status >= 200 && status < 300, text });
          },
          (error: Error) => reject(signal.aborted ? timedOut(request, signal) : error),
        );
      },
    );
    outgoing.on('error', (error) => reject(error instanceof EgressRefused ? error : signal.aborted ? timedOut(request, signal) : error));
    outgoing.end(request.body);
  });
}

function timedOut(request: EgressRequest, signal: AbortSignal): Error {
  const reason = signal.reason as Error | undefined;
  if (reason?.name === 'TimeoutError') return new Error(`did not answer within ${(request.timeoutMs ?? DEFAULT_CALL_TIMEOUT_MS) / 1000} s`);
  return reason instanceof Error ? reason : new Error('the call was cancelled');
}
