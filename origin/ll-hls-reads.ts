import { RingcastError } from '../common/errors.ts';
import type { LiveStream } from './live-stream.ts';
import type { Part } from './segment-types.ts';

/**
 * The origin's LL-HLS reads: a blocking playlist reload (`_HLS_msn`, `_HLS_part`), a delta update
 * (`_HLS_skip`) and a held preload-hint part (RFC 8216bis 6.2.5.2, 6.2.5.1). Query parsing is pure; the
 * holds wait on the stream's own wake-ups, never on a poll.
 */

/** Where a blocking reload asks the playlist to reach; `part` only with `msn`. */
export interface BlockingRequest {
  msn: number;
  part?: number;
}

/** How long a blocking request is held: three target durations, as the LL-HLS spec suggests. */
export const holdMs = (stream: Pick<LiveStream, 'targetDuration'>) => stream.targetDuration() * 3000;

/** The Advance Part Limit of RFC 8216bis 6.2.5.2: 3 / PART-TARGET parts when the target is under 1 s. */
export const advancePartLimit = (partTarget: number) => (partTarget < 1 ? Math.floor(3 / partTarget) : 3);

/** `_HLS_msn` and `_HLS_part` as numbers; undefined when the request does not block; 400 when malformed. */
export function parseBlockingRequest(q: URLSearchParams): BlockingRequest | undefined {
  const msnText = q.get('_HLS_msn');
  const partText = q.get('_HLS_part');
  if (msnText === null) {
    if (partText !== null) throw new RingcastError('RC_BAD_REQUEST', '_HLS_part needs _HLS_msn');
    return undefined;
  }
  if (!/^\d{1,10}$/.test(msnText) || (partText !== null && !/^\d{1,6}$/.test(partText))) {
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_msn and _HLS_part must be whole numbers');
  }
  return { msn: Number(msnText), part: partText === null ? undefined : Number(partText) };
}

/** True when `_HLS_skip` asks for a delta update; 400 for a value other than YES or v2. */
export function parseSkip(q: URLSearchParams): boolean {
  const skipText = q.get('_HLS_skip');
  if (skipText !== null && skipText !== 'YES' && skipText !== 'v2')
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_skip must be YES or v2');
  return skipText !== null;
}

/**
 * How many parts `msn.part` lies past the playlist's last part (a segment counts target / PART-TARGET
 * parts); 0 before the playlist has any.
 */
export function partsAhead(
  edge: { msn: number; part: number } | undefined,
  want: { msn: number; part: number },
  partsPerSegment: number,
): number {
  if (!edge) return 0;
  return (want.msn - edge.msn) * partsPerSegment + want.part - edge.part;
}

/**
 * Holds a blocking reload until the playlist has `msn` (and `part`). Too far ahead is a 400 at once
 * (more than two segments past the last, or more parts than the Advance Part Limit); a wait past three
 * target durations is a 503: the stream is not advancing.
 */
export async function waitForPlaylist(stream: LiveStream, rendition: string, want: BlockingRequest) {
  const { msn, part } = want;
  if (msn > stream.lastMsn(rendition) + 2)
    throw new RingcastError('RC_BAD_REQUEST', '_HLS_msn is too far ahead');
  if (part !== undefined) {
    const perSegment = Math.round(stream.targetDuration() / stream.partTarget);
    if (
      partsAhead(stream.liveEdge(rendition), { msn, part }, perSegment) > advancePartLimit(stream.partTarget)
    )
      throw new RingcastError('RC_BAD_REQUEST', '_HLS_part is too far ahead');
  }
  if (!(await stream.waitUntil(() => stream.hasReached(rendition, msn, part), holdMs(stream))))
    throw new RingcastError('RC_BLOCKING_TIMEOUT');
}

/**
 * Part `index` of segment `msn` from memory. The next one (the preload hint) is held until it is
 * complete, or until its segment completed without it (a keyframe came first); undefined then.
 */
export async function heldPart(
  stream: LiveStream,
  rendition: string,
  msn: number,
  index: number,
): Promise<Part | undefined> {
  const part = stream.part(rendition, msn, index);
  if (part || !stream.isNextPart(rendition, msn, index)) return part;
  await stream.waitUntil(
    () => stream.part(rendition, msn, index) !== undefined || stream.lastMsn(rendition) >= msn,
    holdMs(stream),
  );
  return stream.part(rendition, msn, index);
}
