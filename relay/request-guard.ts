import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { LivePath } from '../common/names.ts';
import { type GateRequest, PlaybackGate } from '../common/playback-gate.ts';
import { defaultPlaybackKey, type PlaybackKey } from '../common/playback-token.ts';
import type { StreamInfo } from '../common/types.ts';
import type { CacheEntry } from './cache-entry.ts';
import { mediaNumbers, StreamWindow, WINDOW_LEAD } from './stream-window.ts';

/** Strangers' requests refused locally, by reason: `ringcast_relay_refused_requests_total`. */
export type RefusalReason = 'outside_window' | 'too_far_ahead' | 'cold' | 'bad_head';

/**
 * Segment fills per second a stream the relay knows no window of yet may start: enough for viewers
 * arriving at a fresh relay (they ask for the same few names), not for a stranger's list of guesses.
 */
export const COLD_FILLS_PER_SECOND = 32;

/** How often a flood of one kind of refusal is logged (one line, with the count since the last). */
const LOG_EVERY_MS = 1000;

/**
 * Keeps a viewer's request from costing the origin more than the live window: a segment or part named
 * far outside what the relay knows of the rendition is a local 404, a blocking reload far past the
 * newest segment a local 400 (the origin would answer the same). Learns the window from announcements
 * and the media playlists the relay fills.
 */
export class RequestGuard {
  readonly window = new StreamWindow();
  /** Private streams' playback tokens (docs/api.md, "Signed playback"). */
  readonly playback: PlaybackGate;
  private readonly counts: Record<RefusalReason, number> = {
    outside_window: 0,
    too_far_ahead: 0,
    cold: 0,
    bad_head: 0,
  };
  private readonly lastLog: Record<RefusalReason, { at: number; count: number }> = {
    outside_window: { at: 0, count: 0 },
    too_far_ahead: { at: 0, count: 0 },
    cold: { at: 0, count: 0 },
    bad_head: { at: 0, count: 0 },
  };

  /** Fills started per cold stream in the current second. */
  private readonly cold = new Map<string, { sec: number; fills: number }>();

  constructor(
    private readonly log: Logger,
    playbackKeys: readonly PlaybackKey[] = [defaultPlaybackKey('')],
  ) {
    this.playback = new PlaybackGate(playbackKeys, log);
  }

  /** Requests refused locally so far, by reason; token refusals as `token_<reason>`. */
  get refused(): Record<string, number> {
    const out: Record<string, number> = { ...this.counts };
    for (const [reason, n] of Object.entries(this.playback.refused)) out[`token_${reason}`] = n;
    return out;
  }

  /** A private stream's request: undefined when its token admits it, else the 403 (before any lookup). */
  admit(req: GateRequest): RingcastError | undefined {
    return this.playback.check(req);
  }

  /** The error a fill of `path` must not start for, or undefined: the request may go upstream. */
  check(path: LivePath, msn: number | undefined, stream: StreamInfo): RingcastError | undefined {
    const { streamId, rendition, file } = path;
    if (!rendition) return undefined;
    if (path.kind === 'segment' && !this.window.admits(streamId, rendition, file)) {
      this.note('outside_window', path.relPath);
      return new RingcastError(
        'RC_NOT_FOUND',
        `${file} is outside the live window of ${streamId}/${rendition}`,
      );
    }
    if (path.kind === 'segment' && !this.coldFill(streamId, file)) {
      this.note('cold', path.relPath);
      return new RingcastError('RC_WINDOW_UNKNOWN');
    }
    if (msn !== undefined && stream.lowLatency) {
      const newest = this.window.newest(streamId, rendition);
      // One segment more than the window's lead: the origin refuses past its last + 2 (RFC 8216bis
      // 6.2.5.2) and the relay's view lags it; anything closer is the origin's to judge.
      if (newest !== undefined && msn > newest + WINDOW_LEAD + 1) {
        this.note('too_far_ahead', path.relPath);
        return new RingcastError('RC_BAD_REQUEST', '_HLS_msn is too far ahead');
      }
    }
    return undefined;
  }

  /** May a segment fill of a stream with no known window start now? (Always, once the window is known.) */
  private coldFill(streamId: string, file: string): boolean {
    if (this.window.knows(streamId)) {
      if (this.cold.size > 0) this.cold.delete(streamId);
      return true;
    }
    if (!mediaNumbers(file)) return true;
    const sec = Math.floor(Date.now() / 1000);
    let c = this.cold.get(streamId);
    if (!c || c.sec !== sec) {
      c = { sec, fills: 0 };
      this.cold.set(streamId, c);
    }
    return ++c.fills <= COLD_FILLS_PER_SECOND;
  }

  /** A media playlist filled with 200: its URIs tell the rendition's window. */
  learnPlaylist(entry: CacheEntry): void {
    const { streamId, rendition } = entry.path;
    if (!rendition || !entry.body) return;
    this.window.listed(streamId, rendition, entry.body.toString('latin1'));
  }

  /** Counts a refusal; logs the first of a burst at once and the rest at most once a second. */
  note(reason: RefusalReason, what: string): void {
    this.counts[reason]++;
    const l = this.lastLog[reason];
    l.count++;
    const now = Date.now();
    if (now - l.at < LOG_EVERY_MS) return;
    this.log.info({ reason, what: what.slice(0, 200), count: l.count }, 'request refused locally');
    l.at = now;
    l.count = 0;
  }
}
