import type { RelayInfo, StreamInfo } from '../common/types.ts';
import type {
  ClusterEvent,
  ClusterEventHandler,
  ClusterStore,
  RegistrationSet,
  StoredRelay,
  StreamRegistration,
} from './store.ts';

/** The default store: one coordinator, state in this process, nothing to install. */
export class MemoryStore implements ClusterStore {
  readonly available = true;
  private readonly relays = new Map<string, StoredRelay>();
  private readonly streams = new Map<string, StreamInfo>();
  private readonly handlers = new Set<ClusterEventHandler>();
  private version = 0;
  private readonly registrations = new Map<string, StreamRegistration>();
  /** Key digest → stream id. */
  private readonly keyIndex = new Map<string, string>();
  private registrationsVer = 0;

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

  async listRegistrations(): Promise<RegistrationSet> {
    const registrations = [...this.registrations.values()].map((r) => ({ ...r }));
    return { version: this.registrationsVer, registrations };
  }

  async registrationsVersion(): Promise<number> {
    return this.registrationsVer;
  }

  async getRegistration(id: string): Promise<StreamRegistration | undefined> {
    const r = this.registrations.get(id);
    return r && { ...r };
  }

  async findRegistrationByDigest(keyDigest: string): Promise<StreamRegistration | undefined> {
    const id = this.keyIndex.get(keyDigest);
    return id === undefined ? undefined : this.getRegistration(id);
  }

  async createRegistration(reg: StreamRegistration): Promise<boolean> {
    if (this.registrations.has(reg.id)) return false;
    this.registrations.set(reg.id, { ...reg });
    if (reg.keyDigest) this.keyIndex.set(reg.keyDigest, reg.id);
    this.registrationsVer += 1;
    return true;
  }

  async setRegistrationKey(
    id: string,
    keyDigest: string | null,
    nowMs: number,
  ): Promise<StreamRegistration | undefined> {
    const r = this.registrations.get(id);
    if (!r) return undefined;
    if (r.keyDigest) this.keyIndex.delete(r.keyDigest);
    if (keyDigest) this.keyIndex.set(keyDigest, id);
    r.keyDigest = keyDigest;
    r.keyChangedAtMs = nowMs;
    this.registrationsVer += 1;
    return { ...r };
  }

  async removeRegistration(id: string): Promise<boolean> {
    const r = this.registrations.get(id);
    if (!r) return false;
    if (r.keyDigest) this.keyIndex.delete(r.keyDigest);
    this.registrations.delete(id);
    this.registrationsVer += 1;
    return true;
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
