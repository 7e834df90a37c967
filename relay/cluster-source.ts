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
