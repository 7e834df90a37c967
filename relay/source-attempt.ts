import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { RingcastError } from '../common/errors.ts';
import { ERROR_HEADER } from '../common/types.ts';
import type { CacheEntry } from './cache-entry.ts';
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

/** How one attempt ended, told back to the Filler. */
export interface AttemptReport {
  /** The source sent its response head (any status). */
  responded(): void;
  /** The whole body is in the entry. */
  done(sha256: string): void;
  /** The source answered 404 and has the last word on it (the origin). */
  notFound(): void;
  /** Nothing reached viewers yet: the next source may try. */
  next(err: RingcastError, outcome: string, mismatch?: boolean): void;
  /** Bytes already went out: the fill fails. */
  failed(err: RingcastError): void;
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
    if (status === 404 && !this.isPeer) this.report.notFound();
    // A peer's 404 may only mean its view of the stream lags: the origin has the last word.
    else if (status === 404) {
      this.report.next(new RingcastError('RC_NOT_FOUND', `${this.sourceId} has no such object`), 'not_found');
    } else if (status === 503 && !this.isPeer && this.entry.key.includes('_HLS_msn')) {
      // The origin held an LL-HLS blocking reload as long as it allows: asking it again through a peer
      // would only hold the viewers longer. They get the 503 (RFC 8216bis 6.2.5.2).
      this.report.failed(new RingcastError('RC_BLOCKING_TIMEOUT', 'the origin ended the blocking reload'));
    } else if (this.isPeer && headers[ERROR_HEADER] === 'RC_ORIGIN_LINK_DOWN') {
      // The peer refused our (hop) request at once: it takes its own link to the origin as broken.
      const err = new RingcastError('RC_UPSTREAM_FAILED', `${this.sourceId} cannot reach the origin now`);
      this.report.next(err, 'refused');
    } else {
      const err = new RingcastError('RC_UPSTREAM_FAILED', `${this.sourceId} answered HTTP ${status}`);
      this.report.next(err, 'bad_status');
    }
    return false;
  }

  onData(chunk: Buffer): void {
    this.hash.update(chunk);
    if (!this.announced) this.entry.push(chunk);
    else {
      this.held.push(chunk);
      this.heldBytes += chunk.length;
    }
  }

  onEnd(): void {
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
    this.report.done(sha256);
  }

  onError(err: RingcastError): void {
    // Bytes already went out to viewers: this fill cannot switch sources mid-body.
    if (this.entry.state === 'streaming') this.report.failed(err);
    else this.report.next(err, err.code === 'RC_UPSTREAM_TIMEOUT' ? 'timeout' : 'error');
  }

  private mismatch(why: string): void {
    const err = new RingcastError('RC_UPSTREAM_FAILED', `peer ${this.sourceId} sent a bad segment: ${why}`);
    this.report.next(err, 'mismatch', true);
  }
}
