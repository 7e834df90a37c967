import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ERROR_CODES, type ErrorCode, RingcastError } from '../common/errors.ts';
import { ERROR_HEADER } from '../common/types.ts';
import type { CacheEntry } from './cache-entry.ts';
import type { AttemptOutcome } from './fill-outcome.ts';
import type { UpstreamHandlers } from './upstream-request.ts';

/**
 * What a peer's bytes must match: a segment's announcement (size and SHA-256), or the SHA-256 prefix an
 * init section's name carries (`init-<8 hex>.mp4`).
 */
export interface Expected {
  size?: number;
  sha256?: string;
  sha256Prefix?: string;
}

/** How one attempt goes, told back to the Filler. */
export interface AttemptReport {
  /** The source sent its response head (any status). */
  responded(): void;
  /** The attempt ended (called once). */
  settled(outcome: AttemptOutcome): void;
}

/**
 * One try of one source for one entry. Bytes stream into the entry as they arrive, except when an
 * announcement can verify a peer's bytes: then they are held until size and SHA-256 match, so one
 * bad relay cannot hand corrupt bytes to viewers.
 */
export class SourceAttempt implements UpstreamHandlers {
  private readonly hash = createHash('sha256');
  private readonly held: Buffer[] = [];
  private heldBytes = 0;
  /** The origin answered a 4xx that viewers get as is: its status and (bounded) error body. */
  private clientError:
    | { status: number; code: string | undefined; body: Buffer[]; bytes: number }
    | undefined;

  constructor(
    private readonly entry: CacheEntry,
    private readonly sourceId: string,
    private readonly isPeer: boolean,
    private readonly announced: Expected | undefined,
    private readonly report: AttemptReport,
  ) {}

  onResponse(status: number, headers: IncomingHttpHeaders): boolean {
    this.report.responded();
    const declared = headers['content-length'];
    const length = declared === undefined ? undefined : Number(declared);
    if (status === 200) {
      if (this.announced?.size !== undefined && length !== undefined && length !== this.announced.size) {
        this.mismatch(`size ${length}, announced ${this.announced.size}`);
        return false;
      }
      if (!this.announced) this.entry.start(200, length);
      return true;
    }
    const code = headers[ERROR_HEADER];
    const errorCode = typeof code === 'string' ? code : undefined;
    const blocking = this.entry.key.includes('_HLS_msn');
    const outcome = answerOutcome({
      status,
      errorCode,
      isPeer: this.isPeer,
      sourceId: this.sourceId,
      blocking,
    });
    if (outcome !== 'passOn') {
      this.report.settled(outcome);
      return false;
    }
    // The origin's answer about the request itself: its (bounded) error body is read for the code.
    this.clientError = { status, code: errorCode, body: [], bytes: 0 };
    return true;
  }

  onData(chunk: Buffer): void {
    const ce = this.clientError;
    if (ce) {
      // Only a bounded copy of what upstream says is kept.
      if (ce.bytes < ERROR_BODY_MAX) ce.body.push(chunk.subarray(0, ERROR_BODY_MAX - ce.bytes));
      ce.bytes += chunk.length;
      return;
    }
    this.hash.update(chunk);
    if (!this.announced) this.entry.push(chunk);
    else {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
    }
  }

  onEnd(): void {
    if (this.clientError) {
      const err = passedOn(this.clientError.status, this.clientError.code, this.clientError.body);
      this.report.settled({ kind: 'answered', err, reason: 'client_error' });
      return;
    }
    const sha256 = this.hash.digest('hex');
    const announced = this.announced;
    if (announced) {
      const why =
        announced.size !== undefined && this.heldBytes !== announced.size
          ? `size ${this.heldBytes}, announced ${announced.size}`
          : announced.sha256 !== undefined && sha256 !== announced.sha256
            ? 'sha256 differs from the announcement'
            : announced.sha256Prefix !== undefined && !sha256.startsWith(announced.sha256Prefix)
              ? 'sha256 differs from the digest in its name'
              : undefined;
      if (why) {
        this.mismatch(why);
        return;
      }
      this.entry.start(200, this.heldBytes);
      this.entry.push(this.held.length === 1 ? this.held[0]! : Buffer.concat(this.held, this.heldBytes));
    }
    this.report.settled({ kind: 'ok', sha256 });
  }

  onError(err: RingcastError): void {
    if (this.clientError) {
      // The status is what matters; a body cut short only loses the code.
      const err = passedOn(this.clientError.status, this.clientError.code, []);
      this.report.settled({ kind: 'answered', err, reason: 'client_error' });
      return;
    }
    // Bytes already went out to viewers: this fill cannot switch sources mid-body.
    const midBody = this.entry.state === 'streaming';
    const reason = err.code === 'RC_UPSTREAM_TIMEOUT' ? 'timeout' : 'error';
    this.report.settled({ kind: 'failed', err, reason, midBody });
  }

  private mismatch(why: string): void {
    const err = new RingcastError('RC_UPSTREAM_FAILED', `peer ${this.sourceId} sent a bad segment: ${why}`);
    this.report.settled({ kind: 'rejected', err, reason: 'mismatch' });
  }
}

/** A non-200 answer as the Fill sees it (what answerOutcome reads). */
export interface Answer {
  status: number;
  /** Its `X-Ringcast-Error` code, if any. */
  errorCode: string | undefined;
  /** From a peer (else from the origin). */
  isPeer: boolean;
  sourceId: string;
  /** An LL-HLS blocking playlist reload (`_HLS_msn`). */
  blocking: boolean;
}

/**
 * What a non-200 answer means for the fill: an outcome, or 'passOn' for an origin 4xx that viewers get
 * as is (its error body is read for the code first). The origin has the last word on a name; a peer's
 * answer only sends the fill on (docs/architecture.md, "The hop rule").
 */
export function answerOutcome(a: Answer): AttemptOutcome | 'passOn' {
  const { status, isPeer, sourceId } = a;
  if (!isPeer && status === 404) return { kind: 'notFound' };
  // The origin's answer about the request itself (a blocking reload too far ahead is a 400, RFC
  // 8216bis 6.2.5.2): viewers get the same status and code.
  if (!isPeer && PASSED_ON.has(status)) return 'passOn';
  // A peer's 4xx goes to the origin once: the origin has the last word, as for a 404.
  if (PASSED_ON.has(status)) return rejected('client_error', `${sourceId} answered HTTP ${status}`);
  // A peer's 404 may only mean its view of the stream lags: the origin has the last word.
  if (status === 404) {
    const err = new RingcastError('RC_NOT_FOUND', `${sourceId} has no such object`);
    return { kind: 'rejected', err, reason: 'not_found' };
  }
  // The origin held an LL-HLS blocking reload as long as it allows: asking it again through a peer
  // would only hold the viewers longer. They get the 503 (RFC 8216bis 6.2.5.2). An answer, not a link
  // failure: 'bad_status' leaves the origin-link breaker alone.
  if (!isPeer && status === 503 && a.blocking) {
    const err = new RingcastError('RC_BLOCKING_TIMEOUT', 'the origin ended the blocking reload');
    return { kind: 'answered', err, reason: 'bad_status' };
  }
  // The peer refused our (hop) request at once: it takes its own link to the origin as broken.
  if (isPeer && a.errorCode === 'RC_ORIGIN_LINK_DOWN') {
    return {
      kind: 'refused',
      err: new RingcastError('RC_UPSTREAM_FAILED', `${sourceId} cannot reach the origin now`),
    };
  }
  return rejected('bad_status', `${sourceId} answered HTTP ${status}`);
}

const rejected = (reason: 'client_error' | 'bad_status', message: string): AttemptOutcome => ({
  kind: 'rejected',
  err: new RingcastError('RC_UPSTREAM_FAILED', message),
  reason,
});

/** Upstream 4xx answers a relay passes on to viewers as the same status (404 has its own path). */
const PASSED_ON = new Set([400, 403, 410, 416]);
const ERROR_BODY_MAX = 1024;
/** The code viewers get for an upstream 4xx whose own code is unknown or does not fit its status. */
const GENERIC: Record<number, ErrorCode> = {
  400: 'RC_BAD_REQUEST',
  403: 'RC_UPSTREAM_FORBIDDEN',
  410: 'RC_UPSTREAM_GONE',
  416: 'RC_UPSTREAM_RANGE',
};

/**
 * The error an upstream 4xx becomes: its own RC_ code (from `X-Ringcast-Error` or the JSON body) when
 * that code is known and has the same status, else the generic code of the status; the message is the
 * upstream's, cut to 200 characters.
 */
export function passedOn(status: number, header: string | undefined, body: readonly Buffer[]): RingcastError {
  let code = header;
  let message: string | undefined;
  try {
    const parsed = JSON.parse(Buffer.concat(body).toString('utf8')) as {
      error?: { code?: unknown; message?: unknown };
    };
    if (typeof parsed?.error?.code === 'string') code ??= parsed.error.code;
    if (typeof parsed?.error?.message === 'string') message = parsed.error.message.slice(0, 200);
  } catch {
    // Not JSON (or cut short): the generic code.
  }
  const known =
    code !== undefined &&
    Object.hasOwn(ERROR_CODES, code) &&
    ERROR_CODES[code as ErrorCode].status === status;
  const use = known ? (code as ErrorCode) : GENERIC[status]!;
  return new RingcastError(use, message ?? `upstream answered HTTP ${status}`);
}
