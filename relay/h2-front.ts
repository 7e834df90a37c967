import {
  constants,
  type IncomingHttpHeaders,
  type OutgoingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import { RingcastError } from '../common/errors.ts';
import { HOP_HEADER } from '../common/types.ts';
import type { CacheEntry } from './cache-entry.ts';
import type { FastRoute } from './fast-http.ts';
import { header } from './live-query.ts';
import { followEntry } from './plan-follower.ts';
import { type FastRequest, splitTarget } from './request-head.ts';
import {
  type ErrorPlan,
  errorPlan,
  type HeaderList,
  type PlanContext,
  planResponse,
  type SendPlan,
  type StreamPlan,
} from './response-plan.ts';
import { agentSession } from './viewer-tracker.ts';

/** What the HTTP/2 front end needs of the relay (the same as the fast path's, fast-http.ts). */
export interface H2FrontDeps {
  /** The route decision (live-router.ts); undefined when the relay is closing. */
  route(req: FastRequest): FastRoute;
  context(): PlanContext;
  pin(entry: CacheEntry): void;
  unpin(entry: CacheEntry): void;
  served(bytes: number): void;
}

/** True for the streams this front end answers itself: GET and HEAD of `/live/` objects (or `/t/<token>/live/`). */
export function isLiveStream(headers: IncomingHttpHeaders): boolean {
  const method = headers[':method'];
  return (method === 'GET' || method === 'HEAD') && isLivePath(headers[':path'] ?? '');
}

/**
 * Answers one HTTP/2 `/live/` stream by writing the plan of response-plan.ts, as the HTTP/1.1 front ends
 * do: a complete entry at once, a filling one cut-through (plan-follower.ts). Each stream waits on its
 * own entry, so a held blocking playlist reload never holds the other streams of the session.
 */
export function serveLiveStream(
  stream: ServerHttp2Stream,
  headers: IncomingHttpHeaders,
  deps: H2FrontDeps,
): void {
  // A viewer that resets its stream (a cancelled part) is not an error of the relay's.
  stream.on('error', () => {});
  const req = h2Request(stream, headers);
  const routed = deps.route(req);
  if (routed === undefined) {
    writeError(stream, errorPlan(new RingcastError('RC_SHUTTING_DOWN'), deps.context().relayId), req.head);
    return;
  }
  if (routed instanceof RingcastError) {
    writeError(stream, errorPlan(routed, deps.context().relayId), req.head);
    return;
  }
  const { entry, result } = routed;
  const plan = () => planResponse(req, entry, result, Date.now(), deps.context());
  const first = plan();
  if (first.kind === 'send') {
    writeSend(stream, first, entry, deps);
    return;
  }
  if (first.kind === 'error') {
    writeError(stream, first, req.head);
    return;
  }
  deps.pin(entry);
  const stop = followEntry(
    {
      entry,
      plan,
      planError: (err) => errorPlan(err, deps.context().relayId),
      answer: (p) =>
        p.kind === 'send' ? writeSend(stream, p, entry, deps) : writeError(stream, p, req.head),
      start: (p) => {
        if (!stream.destroyed) stream.respond(h2Headers(p), { endStream: !p.body });
      },
      data: (chunk) => stream.write(chunk),
      end: () => {
        deps.served(entry.size);
        stream.end();
      },
      cut: () => stream.close(constants.NGHTTP2_INTERNAL_ERROR),
      done: () => {},
    },
    first,
  );
  stream.once('close', () => {
    stop();
    deps.unpin(entry);
  });
}

/** The request fields every front end reads, from an HTTP/2 stream's headers. */
function h2Request(stream: ServerHttp2Stream, headers: IncomingHttpHeaders): FastRequest {
  const { pathname, query } = splitTarget(headers[':path'] ?? '/');
  const address = () => stream.session?.socket?.remoteAddress ?? '';
  return {
    head: headers[':method'] === 'HEAD',
    range: header(headers.range),
    ifNoneMatch: header(headers['if-none-match']),
    pathname,
    query,
    hop: header(headers[HOP_HEADER]),
    onlyIfCached: header(headers['cache-control'])?.includes('only-if-cached') === true,
    session: () => agentSession(address(), header(headers['user-agent'])),
    address,
  };
}

/** A plan's status and headers as an HTTP/2 header object (names are lowercase in every plan). */
function h2Headers(plan: SendPlan | StreamPlan | ErrorPlan): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = { ':status': plan.status };
  addList(out, plan.headers);
  if (plan.kind !== 'error' && plan.age !== undefined) out.age = String(plan.age);
  return out;
}

function addList(out: OutgoingHttpHeaders, list: HeaderList): void {
  for (let i = 0; i < list.length; i += 2) out[list[i]!] = list[i + 1]!;
}

/** A whole answer from a complete entry's body. */
function writeSend(stream: ServerHttp2Stream, plan: SendPlan, entry: CacheEntry, deps: H2FrontDeps): void {
  if (stream.destroyed) return;
  const { body } = plan;
  stream.respond(h2Headers(plan), { endStream: !body });
  if (!body) return;
  const bytes = entry.body!;
  deps.served(body.end - body.start);
  stream.end(body.start === 0 && body.end === bytes.length ? bytes : bytes.subarray(body.start, body.end));
}

/** An error plan; for HEAD the head alone. A stream already answering can only be reset. */
function writeError(stream: ServerHttp2Stream, plan: ErrorPlan, head: boolean): void {
  if (stream.destroyed) return;
  if (stream.headersSent) {
    stream.close(constants.NGHTTP2_INTERNAL_ERROR);
    return;
  }
  stream.respond(h2Headers(plan), { endStream: head });
  if (!head) stream.end(plan.body);
}

const isLivePath = (path: string): boolean => path.startsWith('/live/') || path.startsWith('/t/');
