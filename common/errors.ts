/** A 403 refusal (the playback-token codes share it). */
function forbidden<M extends string>(message: M): { status: 403; message: M } {
  return { status: 403, message };
}

/** Every error the parts report over HTTP, created once with a code, an HTTP status and a message. */
export const ERROR_CODES = {
  RC_BAD_PATH: { status: 400, message: 'path is not a valid Ringcast path' },
  RC_BAD_REQUEST: { status: 400, message: 'request is malformed' },
  RC_BAD_BODY: { status: 400, message: 'request body is not valid' },
  RC_BODY_TOO_LARGE: { status: 413, message: 'request body is too large' },
  RC_UNAUTHORIZED: { status: 401, message: 'cluster secret missing or wrong' },
  RC_NOT_FOUND: { status: 404, message: 'not found' },
  RC_STREAM_NOT_FOUND: { status: 404, message: 'stream is not known' },
  RC_RELAY_NOT_FOUND: { status: 404, message: 'relay is not registered' },
  RC_STREAM_EXISTS: { status: 409, message: 'stream is already registered' },
  RC_KEY_REFUSED: { status: 403, message: 'stream key is unknown or revoked' },
  RC_METHOD_NOT_ALLOWED: { status: 405, message: 'method not allowed' },
  RC_NO_RELAY: { status: 503, message: 'no relay is available' },
  RC_UPSTREAM_FAILED: { status: 502, message: 'every upstream failed' },
  RC_UPSTREAM_TIMEOUT: { status: 504, message: 'upstream timed out' },
  RC_ORIGIN_LINK_DOWN: { status: 502, message: "this relay's link to the origin is failing: ask another" },
  RC_NOT_CACHED: { status: 504, message: "not in this relay's cache (only-if-cached)" },
  RC_BLOCKING_TIMEOUT: { status: 503, message: 'blocking playlist reload waited too long' },
  RC_SHUTTING_DOWN: { status: 503, message: 'server is shutting down' },
  RC_STORE_UNAVAILABLE: { status: 503, message: 'state store is unavailable' },
  RC_INTERNAL: { status: 500, message: 'internal error' },
  // Relay edge: an upstream's refusal passed on as the same status; limits on a viewer's request.
  RC_UPSTREAM_FORBIDDEN: { status: 403, message: 'the origin refused this request' },
  RC_UPSTREAM_GONE: { status: 410, message: 'the origin no longer has this object' },
  RC_UPSTREAM_RANGE: { status: 416, message: 'the origin cannot satisfy this range' },
  RC_HEAD_TOO_LARGE: { status: 431, message: 'request head is over 16 KiB' },
  RC_HEAD_TIMEOUT: { status: 408, message: 'request head not complete in time' },
  RC_WINDOW_UNKNOWN: {
    status: 503,
    message: "this relay does not know the stream's live window yet and is busy: retry shortly",
  },
  // Signed playback (docs/api.md, "Signed playback"): a private stream's request without a good token.
  RC_TOKEN_MISSING: forbidden('this stream needs a playback token'),
  RC_TOKEN_EXPIRED: forbidden('the playback token has expired'),
  RC_TOKEN_INVALID: forbidden('the playback token is not valid for this stream'),
  RC_TOKEN_WRONG_CLIENT: forbidden('the playback token is bound to another network or session'),
  RC_TOO_MANY_SUBSCRIBERS: {
    status: 429,
    message: 'too many event subscribers: from this address or in all',
  },
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class: a code from ERROR_CODES, its HTTP status, a message and an optional cause. */
export class RingcastError extends Error {
  readonly code: ErrorCode;
  readonly status: number;

  constructor(code: ErrorCode, message?: string, options?: { cause?: unknown }) {
    super(message ?? ERROR_CODES[code].message, options);
    this.name = 'RingcastError';
    this.code = code;
    this.status = ERROR_CODES[code].status;
  }

  /** The HTTP body for this error: `{"error":{"code","message"}}`. */
  toJSON(): { error: { code: ErrorCode; message: string } } {
    return { error: { code: this.code, message: this.message } };
  }
}

/** Turns anything thrown into a RingcastError (unknown errors become RC_INTERNAL). */
export function toRingcastError(err: unknown): RingcastError {
  if (err instanceof RingcastError) return err;
  return new RingcastError('RC_INTERNAL', undefined, { cause: err });
}
