import type { RingcastError } from '../common/errors.ts';
import type { LivePath } from '../common/names.ts';
import type { CacheResult, HeaderList } from './response-plan.ts';
import type { ZeroCopyBody } from './zero-copy.ts';

/** pending: no source answered yet; streaming: bytes flowing; complete: whole body; failed: never served as complete. */
export type EntryState = 'pending' | 'streaming' | 'complete' | 'failed';

/** A viewer (or prefetch) following a fill as it happens. */
export interface EntryListener {
  /** Status and length are known; bytes follow. */
  onStart(): void;
  onData(chunk: Buffer): void;
  /** The entry is complete (status 200 with its body, or 404). */
  onEnd(): void;
  onError(err: RingcastError): void;
}

/** Where an entry reports its size, so the cache can hold its byte budget. */
export interface EntryOwner {
  grow(entry: CacheEntry, bytes: number): void;
}

/** A complete entry's response headers per cache result, built once per object (response-plan.ts). */
export type EntryHeaders = Record<CacheResult, HeaderList> & { etag: string };

/**
 * One object in the cache: filled once, followed by any number of viewers while it fills
 * (cut-through), then served from one Buffer. Errors end it as `failed`, never `complete`.
 */
export class CacheEntry {
  state: EntryState = 'pending';
  /** Upstream status passed to viewers: 200 or 404. */
  status = 0;
  /** Bytes held so far. */
  size = 0;
  /** Declared length, when upstream sent one. */
  contentLength: number | undefined;
  body: Buffer | undefined;
  /** The body's memfd region, when it is kept in one (zero-copy.ts): `body` is its bytes. */
  zeroCopy: ZeroCopyBody | undefined;
  /** Hex SHA-256 of the body, once complete. */
  sha256: string | undefined;
  error: RingcastError | undefined;
  /** Readers and the filler; a pinned entry is never evicted. */
  pins = 0;
  /** When a playlist stops being fresh (epoch ms). */
  expiresAt = Number.POSITIVE_INFINITY;
  /** Date.now() when the body completed (the `Age` of briefly cached playlists counts from it). */
  completedAt = 0;
  /** Where the bytes came from, for logs and metrics. */
  source: 'origin' | 'peer' | undefined;
  headers: EntryHeaders | undefined;
  owner: EntryOwner | undefined;
  /**
   * True while this fill waits on the origin only (set by the filler at each source it tries): a hop
   * request may join it without a loop.
   */
  originOnly = false;
  private chunks: Buffer[] = [];
  private readonly listeners = new Set<EntryListener>();

  constructor(
    readonly key: string,
    readonly path: LivePath,
  ) {}

  /** Bytes received so far, in order (for a late joiner). */
  received(): readonly Buffer[] {
    return this.body ? [this.body] : this.chunks;
  }

  subscribe(listener: EntryListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(status: number, contentLength: number | undefined): void {
    this.status = status;
    this.contentLength = contentLength;
    this.state = 'streaming';
    for (const l of this.listeners) l.onStart();
  }

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.size += chunk.length;
    this.owner?.grow(this, chunk.length);
    for (const l of this.listeners) l.onData(chunk);
  }

  /** The body is whole: `join`, when given, may place it in a memfd region (else one Buffer). */
  complete(
    sha256: string,
    join?: (chunks: readonly Buffer[], size: number) => ZeroCopyBody | undefined,
  ): void {
    this.zeroCopy = join?.(this.chunks, this.size);
    // One contiguous Buffer: every hit then is a single write.
    this.body =
      this.zeroCopy?.bytes ??
      (this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks, this.size));
    this.chunks = [];
    this.sha256 = sha256;
    this.completedAt = Date.now();
    this.state = 'complete';
    for (const l of this.listeners) l.onEnd();
    this.listeners.clear();
  }

  fail(err: RingcastError): void {
    if (this.state === 'complete' || this.state === 'failed') return;
    this.state = 'failed';
    this.error = err;
    this.chunks = [];
    for (const l of this.listeners) l.onError(err);
    this.listeners.clear();
  }
}
