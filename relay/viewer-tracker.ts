/** How long a viewer (or a rendition) counts as active after its last request. */
export const VIEWER_WINDOW_MS = 10_000;
/** Sessions one client address can count as, per stream: more are folded into one. */
export const SESSIONS_PER_ADDRESS = 8;
/** Characters of a client-supplied session string (parameter or user agent) kept. */
export const SESSION_CHARS = 64;
/** Renditions remembered per stream (names come from viewers' paths). */
const RENDITIONS_PER_STREAM = 64;

/** A viewer session without a `session` parameter: client address plus a bounded copy of its agent. */
export function agentSession(address: string, userAgent: string | undefined): string {
  return `${address}|${(userAgent ?? '').slice(0, SESSION_CHARS)}`;
}

interface Session {
  last: number;
  address: string;
}

interface StreamSessions {
  sessions: Map<string, Session>;
  /** Sessions per client address, to bound them. */
  perAddress: Map<string, number>;
}

/**
 * Counts distinct viewer sessions per stream and remembers which renditions were watched
 * recently (for prefetch). A session is the `session` query parameter, or client ip + user agent;
 * one client address counts as at most SESSIONS_PER_ADDRESS sessions per stream (the last one shared
 * by all its further sessions), so one host cannot pose as a crowd. A known session's request does a
 * few Map lookups and writes, building no strings; pruning happens when figures are read.
 */
export class ViewerTracker {
  private readonly streams = new Map<string, StreamSessions>();
  /** Last request per rendition, by stream (nested, so a request builds no key string). */
  private readonly renditions = new Map<string, Map<string, number>>();

  seen(streamId: string, rendition: string | undefined, session: string, address: string, now: number): void {
    let s = this.streams.get(streamId);
    if (!s) {
      s = { sessions: new Map(), perAddress: new Map() };
      this.streams.set(streamId, s);
    }
    const known = s.sessions.get(session);
    if (known) known.last = now;
    else this.add(s, session, address, now);
    if (!rendition) return;
    let watched = this.renditions.get(streamId);
    if (!watched) {
      watched = new Map();
      this.renditions.set(streamId, watched);
    }
    if (watched.size < RENDITIONS_PER_STREAM || watched.has(rendition)) watched.set(rendition, now);
  }

  private add(s: StreamSessions, session: string, address: string, now: number): void {
    const n = s.perAddress.get(address) ?? 0;
    // The address's last allowed session is shared by all the others it sends.
    const key = n < SESSIONS_PER_ADDRESS - 1 ? session : `${address}|*`;
    const shared = s.sessions.get(key);
    if (shared) {
      shared.last = now;
      return;
    }
    s.sessions.set(key, { last: now, address });
    s.perAddress.set(address, n + 1);
  }

  /** True when someone watched this rendition in the window. */
  watching(streamId: string, rendition: string, now: number): boolean {
    const last = this.renditions.get(streamId)?.get(rendition);
    return last !== undefined && now - last < VIEWER_WINDOW_MS;
  }

  /** Active sessions per stream, dropping the stale ones. */
  counts(now: number): Map<string, number> {
    const out = new Map<string, number>();
    for (const [streamId, s] of this.streams) {
      for (const [key, session] of s.sessions) {
        if (now - session.last < VIEWER_WINDOW_MS) continue;
        s.sessions.delete(key);
        const n = (s.perAddress.get(session.address) ?? 1) - 1;
        if (n > 0) s.perAddress.set(session.address, n);
        else s.perAddress.delete(session.address);
      }
      if (s.sessions.size === 0) this.streams.delete(streamId);
      else out.set(streamId, s.sessions.size);
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
