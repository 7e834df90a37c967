import type { IncomingMessage, OutgoingHttpHeader, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { CacheEntry } from './cache-entry.ts';
import { followEntry } from './plan-follower.ts';
import type { RelayMetrics } from './relay-metrics.ts';
import {
  type CacheResult,
  type ErrorPlan,
  errorPlan,
  type PlanContext,
  type PlanRequest,
  planResponse,
  type SendPlan,
  type StreamPlan,
  serializeHead,
} from './response-plan.ts';
import type { SegmentCache } from './segment-cache.ts';

// Where they lived before the plan (issue 15): importers keep working.

export interface ResponderDeps {
  relayId(): string;
  cache: SegmentCache;
  metrics: RelayMetrics;
  log: Logger;
  /** Cache-Control of playlists (short: under half a target duration). */
  playlistCacheControl: string;
}

/**
 * Node's http front end for cache entries: writes the plans of response-plan.ts (complete entries from
 * one Buffer, filling ones cut-through as bytes arrive). A viewer whose response started when the fill
 * fails gets its connection destroyed, never a short 200.
 */
export class Responder {
  private ctx: PlanContext = { relayId: '', playlistCacheControl: '' };

  constructor(private readonly deps: ResponderDeps) {}

  /** What plans read from this relay (rebuilt only when the relay learns its id). */
  context(): PlanContext {
    const relayId = this.deps.relayId();
    if (this.ctx.relayId !== relayId || this.ctx.playlistCacheControl === '')
      this.ctx = { relayId, playlistCacheControl: this.deps.playlistCacheControl };
    return this.ctx;
  }

  /** Writes the plan for `entry`; one writer object for the fill's steps, so it reads better whole. */
  serve(req: IncomingMessage, res: ServerResponse, entry: CacheEntry, result: CacheResult): void {
    const request = planRequest(req);
    const plan = planResponse(request, entry, result, Date.now(), this.context());
    // A complete entry is one Buffer: eviction only drops the cache's reference, so a hit needs no pin
    // (and no per-request close listener).
    if (plan.kind === 'send') {
      this.send(res, plan, entry);
      return;
    }
    if (plan.kind === 'error' && entry.state === 'complete') {
      writeError(res, plan);
      return;
    }
    const { cache, metrics } = this.deps;
    cache.pin(entry);
    res.once('close', () => cache.unpin(entry));
    const stop = followEntry(
      {
        entry,
        plan: () => planResponse(request, entry, result, Date.now(), this.context()),
        planError: (err) => errorPlan(err, this.context().relayId),
        answer: (p) => (p.kind === 'send' ? this.send(res, p, entry) : writeError(res, p)),
        start: (p) => {
          res.writeHead(200, withAge(p));
          if (!p.body) res.end();
        },
        data: (chunk) => res.write(chunk),
        end: () => {
          metrics.served(entry.size);
          res.end();
        },
        cut: () => res.destroy(),
        // Node's response ends itself in each step; the pin goes when it closes.
        done: () => {},
      },
      plan,
    );
    res.once('close', stop);
  }

  /** A whole answer from a complete entry's body. */
  private send(res: ServerResponse, plan: SendPlan, entry: CacheEntry): void {
    res.writeHead(plan.status, withAge(plan));
    const { body } = plan;
    if (!body) {
      res.end();
      return;
    }
    const bytes = entry.body!;
    this.deps.metrics.served(body.end - body.start);
    res.end(body.start === 0 && body.end === bytes.length ? bytes : bytes.subarray(body.start, body.end));
  }
}

/** What the plan reads from a Node request. */
function planRequest(req: IncomingMessage): PlanRequest {
  return { head: req.method === 'HEAD', range: req.headers.range, ifNoneMatch: req.headers['if-none-match'] };
}

/** A plan's headers for `writeHead`, with its Age last (playlists only: few allocate). */
function withAge(plan: SendPlan | StreamPlan): OutgoingHttpHeader[] {
  const headers = plan.headers as string[];
  return plan.age === undefined ? headers : [...headers, 'age', String(plan.age)];
}

/** Writes an error plan; a response already started can only be cut. */
function writeError(res: ServerResponse, plan: ErrorPlan): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(plan.status, plan.headers as string[]);
  res.end(plan.body);
}

/** `{"error":{…}}` with the relay and CORS headers, so players and operators see who answered. */
export function sendRelayError(res: ServerResponse, err: unknown, relayId: string): void {
  writeError(res, errorPlan(err, relayId));
}

/** How long a refused client has to read the error before its socket is destroyed. */
const CLOSE_GRACE_MS = 2000;

/** What Node's parser reports on a client's socket, as the relay answers it. */
const PARSE_ERRORS: Record<string, RingcastError> = {
  HPE_HEADER_OVERFLOW: new RingcastError('RC_HEAD_TOO_LARGE'),
  ERR_HTTP_REQUEST_TIMEOUT: new RingcastError('RC_HEAD_TIMEOUT'),
};

/**
 * Node's `clientError`: a request its parser refused (malformed, head over `maxHeaderSize`, head not
 * complete in time). Answered like every other error, with a JSON body and its code, then closed, as
 * the fast path answers the same bytes (it hands them to Node). Returns the code (undefined: the
 * socket was only closed, e.g. a reset, or a response still being written that the error cannot follow).
 */
export function answerClientError(
  err: NodeJS.ErrnoException,
  socket: Duplex,
  relayId: string,
): string | undefined {
  const current = (socket as Duplex & { _httpMessage?: ServerResponse })._httpMessage;
  if (err.code === 'ECONNRESET' || !socket.writable || (current && !current.writableEnded)) {
    socket.destroy();
    return undefined;
  }
  const e =
    PARSE_ERRORS[err.code ?? ''] ?? new RingcastError('RC_BAD_REQUEST', 'request is not valid HTTP/1.1');
  const plan = errorPlan(e, relayId);
  socket.end(serializeHead(plan.status, [...plan.headers, 'connection', 'close']) + plan.body);
  // A client that never closes its side must not keep the socket: the parser that timed it out is gone.
  setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
  return plan.code;
}
