import type { RelayInfo, StreamInfo } from '../common/types.ts';
import type { ClusterEvent, ClusterEventHandler, ClusterStore, StoredRelay } from './store.ts';

/** The default store: one coordinator, state in this process, nothing to install. */
export class MemoryStore implements ClusterStore {
  readonly available = true;
  private readonly relays = new Map<string, StoredRelay>();
  private readonly streams = new Map<string, StreamInfo>();
  private readonly handlers = new Set<ClusterEventHandler>();
  private version = 0;

  async start(): Promise<void> {}

  async close(): Promise<void> {
    this.handlers.clear();
  }

  onAvailabilityChange(): void {}

  async listRelays(): Promise<StoredRelay[]> {
    return [...this.relays.values()].map((r) => ({ ...r }));
  }

  async getRelay(id: string): Promise<StoredRelay | undefined> {
    const r = this.relays.get(id);
    return r && { ...r };
  }

  async putRelay(relay: StoredRelay): Promise<void> {
    this.relays.set(relay.id, { ...relay });
  }

  async touchRelay(id: string, load: RelayInfo['load'], nowMs: number): Promise<boolean> {
    const r = this.relays.get(id);
    if (!r) return false;
    r.load = load;
    r.lastSeenMs = nowMs;
    return true;
  }

  async removeRelay(id: string): Promise<boolean> {
    return this.relays.delete(id);
  }

  async ringVersion(): Promise<number> {
    return this.version;
  }

  async bumpRingVersion(): Promise<number> {
    this.version += 1;
    return this.version;
  }

  async listStreams(): Promise<StreamInfo[]> {
    return [...this.streams.values()].map((s) => structuredClone(s));
  }

  async getStream(id: string): Promise<StreamInfo | undefined> {
    const s = this.streams.get(id);
    return s && structuredClone(s);
  }

  async putStream(stream: StreamInfo): Promise<void> {
    this.streams.set(stream.id, structuredClone(stream));
  }

  async publish(event: ClusterEvent): Promise<void> {
    // Delivered on a later tick, as Redis would, so handlers never run inside the publisher's call.
    queueMicrotask(() => {
      for (const h of this.handlers) h(event);
    });
  }

  subscribe(handler: ClusterEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }
}
