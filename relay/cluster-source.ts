import type { Ring } from '../common/ring.ts';
import type { SegmentAnnouncement, StreamInfo } from '../common/types.ts';

/** What changed in the cluster, as the relay needs it. */
export type ClusterChange =
  | { type: 'ring'; ring: Ring }
  | { type: 'stream'; stream: StreamInfo }
  | { type: 'segment'; segment: SegmentAnnouncement };

/**
 * The relay's narrow view of the cluster: the current ring, streams (for their origin), segment
 * announcements (for peer verification) and change events. CoordinatorClient is the real one;
 * tests pass a simple fake.
 */
export interface ClusterSource {
  ring(): Ring;
  stream(streamId: string): StreamInfo | undefined;
  /** The announcement of `streamId/rendition/file`, when one was seen recently. */
  announcement(streamId: string, rendition: string, file: string): SegmentAnnouncement | undefined;
  /** Subscribes to changes; returns the unsubscribe function. */
  onChange(listener: (change: ClusterChange) => void): () => void;
}

/** Key of an announcement: the segment's path after `/live/`. */
export function announcementKey(streamId: string, rendition: string, file: string): string {
  return `${streamId}/${rendition}/${file}`;
}

/** Which announcement to wait for, how long, and what ends the wait early. */
export interface AnnouncementWait {
  streamId: string;
  rendition: string;
  file: string;
  timeoutMs: number;
  /** Aborted: the wait ends at once, without an announcement (the relay is closing). */
  signal: AbortSignal;
}

/**
 * The announcement of a segment: the one known now, else the first `segment` event for it within
 * `timeoutMs` (docs/architecture.md, "Announcements and events"); undefined after that or on abort.
 */
export function awaitAnnouncement(
  cluster: ClusterSource,
  wait: AnnouncementWait,
): Promise<SegmentAnnouncement | undefined> {
  const { streamId, rendition, file, signal } = wait;
  const known = cluster.announcement(streamId, rendition, file);
  if (known || signal.aborted) return Promise.resolve(known);
  const key = announcementKey(streamId, rendition, file);
  return new Promise((resolve) => {
    const end = (found: SegmentAnnouncement | undefined) => {
      clearTimeout(timer);
      unsubscribe();
      signal.removeEventListener('abort', onAbort);
      resolve(found);
    };
    const onAbort = () => end(undefined);
    const timer = setTimeout(onAbort, wait.timeoutMs);
    timer.unref();
    const unsubscribe = cluster.onChange((change) => {
      const s = change.type === 'segment' ? change.segment : undefined;
      if (s && announcementKey(s.streamId, s.rendition, s.file) === key) end(s);
    });
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
