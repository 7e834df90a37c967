/** How long a viewer (or a rendition) counts as active after its last request. */
export const VIEWER_WINDOW_MS = 10_000;

/**
 * Counts distinct viewer sessions per stream and remembers which renditions were watched
 * recently (for prefetch). A session is the `session` query parameter, or client ip + user agent.
 * Per request it does a few Map lookups and writes, building no strings; pruning happens when figures
 * are read.
 */
export class ViewerTracker {
  private readonly sessions = new Map<string, Map<string, number>>();
  /** Last request per rendition, by stream (nested, so a request builds no key string). */
  private readonly renditions = new Map<string, Map<string, number>>();

  seen(streamId: string, rendition: string | undefined, session: string, now: number): void {
    let byStream = this.sessions.get(streamId);
    if (!byStream) {
      byStream = new Map();
      this.sessions.set(streamId, byStream);
    }
    byStream.set(session, now);
    if (!rendition) return;
    let watched = this.renditions.get(streamId);
    if (!watched) {
      watched = new Map();
      this.renditions.set(streamId, watched);
    }
    watched.set(rendition, now);
  }

  /** True when someone watched this rendition in the window. */
  watching(streamId: string, rendition: string, now: number): boolean {
    const last = this.renditions.get(streamId)?.get(rendition);
    return last !== undefined && now - last < VIEWER_WINDOW_MS;
  }

  /** Active sessions per stream, dropping the stale ones. */
  counts(now: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [streamId, byStream] of this.sessions) {
      for (const [session, last] of byStream) if (now - last >= VIEWER_WINDOW_MS) byStream.delete(session);
      if (byStream.size === 0) this.sessions.delete(streamId);
      else out.set(streamId, byStream.size);
    }
    for (const [streamId, watched] of this.renditions) {
      for (const [rendition, last] of watched) if (now - last >= VIEWER_WINDOW_MS) watched.delete(rendition);
      if (watched.size === 0) this.renditions.delete(streamId);
    }
    return out;
  }

  total(now: number): number {
    let n = 0;
    for (const v of this.counts(now).values()) n += v;
    return n;
  }
}
