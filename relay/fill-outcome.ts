import type { RingcastError } from '../common/errors.ts';

/** Why an answer could not be used, as `ringcast_relay_upstream_fetches_total` labels it. */
export type RejectReason = 'not_found' | 'client_error' | 'bad_status' | 'mismatch';

/**
 * How one try of one source ended (relay/source-attempt.ts decides it from the answer; the Filler adds
 * `givenUp`). The Filler's loop switches on `kind`: a typed outcome the compiler checks, not a string.
 */
export type AttemptOutcome =
  /** The whole body is in the entry. */
  | { kind: 'ok'; sha256: string }
  /** The origin answered 404: it has the last word. */
  | { kind: 'notFound' }
  /** The origin's final answer viewers get: a 4xx passed on, or the 503 ending a blocking reload. */
  | { kind: 'answered'; err: RingcastError; reason: 'client_error' | 'bad_status' }
  /** A peer refused our hop: its own link to the origin is failing (502 RC_ORIGIN_LINK_DOWN). */
  | { kind: 'refused'; err: RingcastError }
  /** This source's answer is of no use (a peer's 404 or 4xx, a 5xx, bytes unlike the announcement). */
  | { kind: 'rejected'; err: RingcastError; reason: RejectReason }
  /** Reset, timeout, bad length; `midBody`: bytes already went to viewers, so no other source may try. */
  | { kind: 'failed'; err: RingcastError; reason: 'error' | 'timeout'; midBody: boolean }
  /** A peer not yet answering, given up for the origin because a hop request wants the key (toOrigin). */
  | { kind: 'givenUp' };

/** The `outcome` label of `ringcast_relay_upstream_fetches_total` (docs/relay.md, Metrics). */
export type FetchLabel =
  | 'ok'
  | 'not_found'
  | 'client_error'
  | 'error'
  | 'timeout'
  | 'bad_status'
  | 'refused'
  | 'mismatch'
  | 'given_up';

/** What the fill does after an attempt. */
export type FillStep =
  /** Complete the entry with what arrived (a body, or the origin's 404). */
  | 'complete'
  /** Fail the entry with the outcome's error. */
  | 'fail'
  /** Try the next source in the order. */
  | 'next'
  /** Skip to the origin (the peers before it are given up). */
  | 'origin';

/** What an origin's outcome says about the link to it (relay/origin-breaker.ts). */
export type LinkVerdict = 'works' | 'broken' | 'unknown';

/** The metric label of an outcome. */
export function fetchLabel(o: AttemptOutcome): FetchLabel {
  switch (o.kind) {
    case 'ok':
      return 'ok';
    case 'notFound':
      return 'not_found';
    case 'refused':
      return 'refused';
    case 'givenUp':
      return 'given_up';
    case 'answered':
    case 'rejected':
    case 'failed':
      return o.reason;
  }
}

/** The fill's next step after an outcome. */
export function fillStep(o: AttemptOutcome): FillStep {
  switch (o.kind) {
    case 'ok':
    case 'notFound':
      return 'complete';
    case 'answered':
      return 'fail';
    case 'failed':
      return o.midBody ? 'fail' : 'next';
    case 'refused':
    case 'rejected':
      return 'next';
    case 'givenUp':
      return 'origin';
  }
}

/**
 * What an outcome from the origin says about the link: any answer about the request (a 404, a 4xx passed
 * on) means it works; a reset or timeout that it is broken; a 5xx or a blocking 503 says nothing.
 */
export function linkVerdict(o: AttemptOutcome): LinkVerdict {
  const label = fetchLabel(o);
  if (label === 'ok' || label === 'not_found' || label === 'client_error') return 'works';
  if (label === 'error' || label === 'timeout') return 'broken';
  return 'unknown';
}

/** The error of an outcome that is counted, logged and (when final) given to viewers; none for success. */
export function outcomeError(o: AttemptOutcome): RingcastError | undefined {
  return o.kind === 'ok' || o.kind === 'notFound' || o.kind === 'givenUp' ? undefined : o.err;
}
