import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type {
  RegisterRelayRequest,
  RelayInfo,
  RelayLoad,
  RingView,
  SegmentAnnouncement,
  StreamInfo,
} from '../common/types.ts';
import type { ClusterEvent, ClusterStore, StoredRelay } from './store.ts';

export interface CoordinatorStateOptions {
  relayTimeoutMs: number;
  /** Names this coordinator in events. */
  source: string;
  log: Logger;
}

function publicRelay(r: StoredRelay): RelayInfo {
  const { lastSeenMs: _seen, ...info } = r;
  return info;
}

/**
 * Membership, streams and the ring version: changes go to the store and come back as events, so a
 * change made by any coordinator on the same store reaches this one the same way. A local copy is
 * kept so that viewers are still served the last known ring while the store is down.
 */
export class CoordinatorState {
  private relays = new Map<string, StoredRelay>();
  private readonly streams = new Map<string, StreamInfo>();
  private version = 0;
  private readonly listeners = new Set<(event: ClusterEvent) => void>();
  private unsubscribe: (() => void) | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping = false;
  /** Heartbeats could not be recorded before this moment, so no relay is timed out from before it. */
  private graceFromMs = 0;
  private readonly sweepIntervalMs: number;

  constructor(
    private readonly store: ClusterStore,
    private readonly opts: CoordinatorStateOptions,
  ) {
    this.sweepIntervalMs = Math.max(50, Math.min(250, Math.floor(opts.relayTimeoutMs / 4)));
  }

  async start(): Promise<void> {
    // Our own events were applied when they were made; the store echoes them back to us too.
    this.unsubscribe = this.store.subscribe((e) => e.source !== this.opts.source && this.onStoreEvent(e));
    this.store.onAvailabilityChange((up) => {
      if (up) this.graceFromMs = Date.now();
    });
    await this.refresh().catch((err) => this.opts.log.warn({ err }, 'store not readable at start'));
    this.sweepTimer = setInterval(() => void this.sweep(), this.sweepIntervalMs);
    this.sweepTimer.unref();
  }

  close(): void {
    clearInterval(this.sweepTimer);
    this.unsubscribe?.();
    this.listeners.clear();
  }

  /** Called with every ring, stream and segment event, whichever coordinator caused it. */
  onEvent(listener: (event: ClusterEvent) => void): void {
    this.listeners.add(listener);
  }

  ringView(): RingView {
    const relays = [...this.relays.values()].map(publicRelay).sort((a, b) => a.id.localeCompare(b.id));
    return { version: this.version, relays };
  }

  streamList(): StreamInfo[] {
    return [...this.streams.values()].sort((a, b) => a.id.localeCompare(b.id));
  }

  getStream(id: string): StreamInfo | undefined {
    return this.streams.get(id);
  }

  /** The local copy of stored relays and streams, for a store that lost its data (Redis restart). */
  snapshotForRestore(): { relays: StoredRelay[]; streams: StreamInfo[]; version: number } {
    return { relays: [...this.relays.values()], streams: this.streamList(), version: this.version };
  }

  async register(req: Required<RegisterRelayRequest>): Promise<{ relay: RelayInfo; ring: RingView }> {
    const now = Date.now();
    const old = await this.store.getRelay(req.id);
    const relay: StoredRelay = { ...req, state: 'active', load: old?.load, lastSeenMs: now };
    await this.store.putRelay(relay);
    const changed =
      !old || old.url !== relay.url || old.capacity !== relay.capacity || old.state !== relay.state;
    const ring = changed ? await this.ringChanged(`relay ${req.id} registered`) : this.ringView();
    return { relay: publicRelay(relay), ring };
  }

  /** Records a heartbeat; returns the ring version, or throws RC_RELAY_NOT_FOUND. */
  async heartbeat(id: string, load: RelayLoad): Promise<number> {
    if (!(await this.store.touchRelay(id, load, Date.now()))) throw new RingcastError('RC_RELAY_NOT_FOUND');
    const cached = this.relays.get(id);
    if (cached) cached.load = load;
    return this.version;
  }

  async drain(id: string): Promise<RelayInfo> {
    const relay = await this.store.getRelay(id);
    if (!relay) throw new RingcastError('RC_RELAY_NOT_FOUND');
    if (relay.state !== 'draining') {
      relay.state = 'draining';
      await this.store.putRelay(relay);
      await this.ringChanged(`relay ${id} draining`);
    }
    return publicRelay(relay);
  }

  async remove(id: string): Promise<void> {
    if (!(await this.store.removeRelay(id))) throw new RingcastError('RC_RELAY_NOT_FOUND');
    await this.ringChanged(`relay ${id} deleted`);
  }

  async putStream(stream: StreamInfo): Promise<void> {
    await this.store.putStream(stream);
    await this.publish({ type: 'stream', data: stream, source: this.opts.source });
  }

  async announce(segment: SegmentAnnouncement): Promise<void> {
    if (!this.streams.has(segment.streamId) && !(await this.store.getStream(segment.streamId))) {
      throw new RingcastError('RC_STREAM_NOT_FOUND');
    }
    await this.publish({ type: 'segment', data: segment, source: this.opts.source });
  }

  /** Reads relays, streams and version from the store; adopts a newer ring even if its event was lost. */
  async refresh(): Promise<void> {
    const [relays, version, streams] = await Promise.all([
      this.store.listRelays(),
      this.store.ringVersion(),
      this.store.listStreams(),
    ]);
    for (const s of streams) {
      // A stream changed while this coordinator missed the event (pub/sub reconnecting): say so now.
      // A duplicate stream event is harmless; subscribers upsert.
      const old = this.streams.get(s.id);
      this.streams.set(s.id, s);
      if (!old || JSON.stringify(old) !== JSON.stringify(s))
        this.emit({ type: 'stream', data: s, source: 'refresh' });
    }
    if (version > this.version) {
      // Membership moved without this coordinator seeing the event; take the store's word for it.
      this.relays = new Map(relays.map((r) => [r.id, r]));
      this.version = version;
      this.emit({ type: 'ring', data: this.ringView(), source: 'refresh' });
      return;
    }
    // Same version: the member list is the one we hold; take only heartbeat times and loads.
    for (const r of relays) {
      const cached = this.relays.get(r.id);
      if (cached) Object.assign(cached, { lastSeenMs: r.lastSeenMs, load: r.load });
    }
  }

  private async ringChanged(why: string): Promise<RingView> {
    const version = await this.store.bumpRingVersion();
    const relays = await this.store.listRelays();
    const data: RingView = {
      version,
      relays: relays.map(publicRelay).sort((a, b) => a.id.localeCompare(b.id)),
    };
    this.opts.log.info({ version, relays: data.relays.length }, why);
    await this.publish({ type: 'ring', data, source: this.opts.source });
    return data;
  }

  /** Sends an event to the other coordinators and applies it here at once, so reads after a write see it. */
  private async publish(event: ClusterEvent): Promise<void> {
    await this.store.publish(event);
    this.onStoreEvent(event);
  }

  private onStoreEvent(event: ClusterEvent): void {
    if (event.type === 'ring') {
      // Events from several coordinators may cross; the highest version is the newest member list.
      if (event.data.version <= this.version) return;
      const seen = this.relays;
      this.relays = new Map(
        event.data.relays.map((r) => [r.id, { ...r, lastSeenMs: seen.get(r.id)?.lastSeenMs ?? Date.now() }]),
      );
      this.version = event.data.version;
    } else if (event.type === 'stream') {
      this.streams.set(event.data.id, event.data);
    }
    this.emit(event);
  }

  private emit(event: ClusterEvent): void {
    for (const l of this.listeners) l(event);
  }

  /** Removes relays whose heartbeats stopped, early enough that removal lands within relayTimeoutMs. */
  private async sweep(): Promise<void> {
    if (this.sweeping || !this.store.available) return;
    this.sweeping = true;
    try {
      await this.refresh();
      const now = Date.now();
      const limit = this.opts.relayTimeoutMs - this.sweepIntervalMs;
      const dead = [...this.relays.values()].filter(
        (r) => now - Math.max(r.lastSeenMs, this.graceFromMs) >= limit,
      );
      let removed = 0;
      for (const r of dead) if (await this.store.removeRelay(r.id)) removed++;
      if (removed > 0)
        await this.ringChanged(`${removed} relay(s) timed out: ${dead.map((r) => r.id).join(', ')}`);
    } catch (err) {
      this.opts.log.warn({ err }, 'sweep failed');
    } finally {
      this.sweeping = false;
    }
  }
}
