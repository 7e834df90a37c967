import { Ring } from '../common/ring.ts';
import type { RingView, SegmentAnnouncement, StreamInfo } from '../common/types.ts';
import { announcementKey, type ClusterChange, type ClusterSource } from './cluster-source.ts';

/** Announcements kept for verification; a live edge needs only the last few per rendition. */
const MAX_ANNOUNCEMENTS = 4096;

/**
 * The last known cluster state held in memory: a ClusterSource fed by whoever learns about the
 * cluster (CoordinatorClient from SSE events, tests directly). It keeps its state when the feed
 * stops, so relays go on serving while the coordinator is down.
 */
export class MemoryClusterSource implements ClusterSource {
  private currentRing = new Ring({ version: 0, relays: [] });
  private readonly streams = new Map<string, StreamInfo>();
  private readonly announcements = new Map<string, SegmentAnnouncement>();
  private readonly listeners = new Set<(change: ClusterChange) => void>();

  ring(): Ring {
    return this.currentRing;
  }

  stream(streamId: string): StreamInfo | undefined {
    return this.streams.get(streamId);
  }

  announcement(streamId: string, rendition: string, file: string): SegmentAnnouncement | undefined {
    return this.announcements.get(announcementKey(streamId, rendition, file));
  }

  onChange(listener: (change: ClusterChange) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  setRing(view: RingView): void {
    this.currentRing = new Ring(view);
    this.emit({ type: 'ring', ring: this.currentRing });
  }

  putStream(stream: StreamInfo): void {
    this.streams.set(stream.id, stream);
    this.emit({ type: 'stream', stream });
  }

  addSegment(segment: SegmentAnnouncement): void {
    const key = announcementKey(segment.streamId, segment.rendition, segment.file);
    this.announcements.delete(key);
    this.announcements.set(key, segment);
    if (this.announcements.size > MAX_ANNOUNCEMENTS) {
      this.announcements.delete(this.announcements.keys().next().value!);
    }
    this.emit({ type: 'segment', segment });
  }

  private emit(change: ClusterChange): void {
    for (const l of this.listeners) l(change);
  }
}
