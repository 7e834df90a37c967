/** How long a viewer (or a rendition) counts as active after its last request. */
export const VIEWER_WINDOW_MS = 10_000;

/**
 * Counts distinct viewer sessions per stream and remembers which renditions were watched
 * recently (for prefetch). A session is the `session` query parameter, or client ip + user agent.
 * Per request it does two Map writes; pruning happens when figures are read.
 */
export class ViewerTracker {
  private readonly sessions = new Map<string, Map<string, number>>();
  private readonly renditions = new Map<string, number>();

  seen(streamId: string, rendition: string | undefined, session: string, now: number): void {
    let byStream = this.sessions.get(streamId);
    if (!byStream) {
      byStream = new Map();
      this.sessions.set(streamId, byStream);
    }
    byStream.set(session, now);
    if (rendition) this.renditions.set(`${streamId}/${rendition}`, now);
  }

  /** True when someone watched this rendition in the window. */
  watching(streamId: string, rendition: string, now: number): boolean {
    const last = this.renditions.get(`${streamId}/${rendition}`);
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
    for (const [key, last] of this.renditions)
      if (now - last >= VIEWER_WINDOW_MS) this.renditions.delete(key);
    return out;
  }

  total(now: number): number {
    let n = 0;
    for (const v of this.counts(now).values()) n += v;
    return n;
  }
}
