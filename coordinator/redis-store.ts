import { Redis } from 'ioredis';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { RelayInfo, StreamInfo } from '../common/types.ts';
import { RedisRegistrations } from './redis-registrations.ts';
import type {
  ClusterEvent,
  ClusterEventHandler,
  ClusterStore,
  RegistrationSet,
  StoredRelay,
  StreamRegistration,
} from './store.ts';

export interface RedisStoreOptions {
  url: string;
  log: Logger;
  /** Prefix of every key and of the event channel. */
  keyPrefix?: string;
}

/** What the coordinator knew before Redis lost its data; written back when Redis returns. */
export type RestoreSource = () => {
  relays: StoredRelay[];
  streams: StreamInfo[];
  version: number;
  registrations?: RegistrationSet;
};

// Touch only a relay that is still registered, atomically, so a heartbeat cannot revive a removed relay.
const TOUCH_SCRIPT = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
return 1`;
// The ring version never goes backwards, even when Redis restarted empty.
const RAISE_VERSION_SCRIPT = `local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if tonumber(ARGV[1]) > cur then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`;

/**
 * Cluster state in Redis, shared by several coordinators: relays (info, last heartbeat and load in
 * three hashes), streams, the ring version, and events over pub/sub. Commands fail fast while Redis is
 * down (no offline queue), so callers answer 503 and serve their last known state instead of hanging.
 */
export class RedisStore implements ClusterStore {
  private client: Redis | undefined;
  private sub: Redis | undefined;
  private up = false;
  private readonly handlers = new Set<ClusterEventHandler>();
  private readonly availabilityHandlers = new Set<(available: boolean) => void>();
  private restoreSource: RestoreSource | undefined;
  private readonly k: {
    relays: string;
    seen: string;
    load: string;
    streams: string;
    version: string;
    channel: string;
  };
  private readonly log: Logger;
  private readonly regs: RedisRegistrations;

  constructor(private readonly opts: RedisStoreOptions) {
    const p = opts.keyPrefix ?? 'ringcast:';
    this.k = {
      relays: `${p}relays`,
      seen: `${p}relay-seen`,
      load: `${p}relay-load`,
      streams: `${p}streams`,
      version: `${p}ring-version`,
      channel: `${p}events`,
    };
    this.log = opts.log.child({ component: 'redis-store' });
    this.regs = new RedisRegistrations((fn) => this.run(fn), p);
  }

  get available(): boolean {
    return this.up;
  }

  onAvailabilityChange(handler: (available: boolean) => void): void {
    this.availabilityHandlers.add(handler);
  }

  setRestoreSource(source: RestoreSource): void {
    this.restoreSource = source;
  }

  async start(): Promise<void> {
    if (this.client) return;
    const options = {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 1,
      commandTimeout: 2000,
      retryStrategy: (times: number) => Math.min(100 * times, 1000),
    };
    const client = new Redis(this.opts.url, options);
    const sub = new Redis(this.opts.url, { ...options, enableOfflineQueue: true, commandTimeout: undefined });
    this.client = client;
    this.sub = sub;
    client.on('error', (err) => this.log.debug({ err: err.message }, 'redis error'));
    sub.on('error', (err) => this.log.debug({ err: err.message }, 'redis subscriber error'));
    client.on('ready', () => void this.onReady());
    client.on('close', () => this.setUp(false));
    sub.on('message', (_channel: string, text: string) => this.onMessage(text));
    // Queued until the subscriber connects; ioredis subscribes again after every reconnect.
    void sub.subscribe(this.k.channel).catch((err) => this.log.warn({ err }, 'subscribe failed'));
    // Start anyway when Redis is down: the coordinator serves and reports degraded until it returns.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 2000);
      client.once('ready', () => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  async close(): Promise<void> {
    this.handlers.clear();
    this.availabilityHandlers.clear();
    this.up = false;
    this.client?.disconnect();
    this.sub?.disconnect();
  }

  async listRelays(): Promise<StoredRelay[]> {
    // One transaction: a relay half-written or half-removed between reads would look dead.
    const res = await this.run((c) =>
      c.multi().hgetall(this.k.relays).hgetall(this.k.seen).hgetall(this.k.load).exec(),
    );
    const [info, seen, load] = (res ?? []).map(([err, v]) => {
      if (err) throw new RingcastError('RC_STORE_UNAVAILABLE', undefined, { cause: err });
      return v as Record<string, string>;
    }) as [Record<string, string>, Record<string, string>, Record<string, string>];
    return Object.entries(info ?? {}).map(([id, json]) => this.toRelay(json, seen?.[id], load?.[id]));
  }

  async getRelay(id: string): Promise<StoredRelay | undefined> {
    const [info, seen, load] = await this.run((c) =>
      Promise.all([c.hget(this.k.relays, id), c.hget(this.k.seen, id), c.hget(this.k.load, id)]),
    );
    return info === null ? undefined : this.toRelay(info, seen ?? undefined, load ?? undefined);
  }

  async putRelay(relay: StoredRelay): Promise<void> {
    const { lastSeenMs, load, ...info } = relay;
    await this.run((c) => {
      const m = c
        .multi()
        .hset(this.k.relays, relay.id, JSON.stringify(info))
        .hset(this.k.seen, relay.id, lastSeenMs);
      if (load) m.hset(this.k.load, relay.id, JSON.stringify(load));
      return m.exec();
    });
  }

  async touchRelay(id: string, load: RelayInfo['load'], nowMs: number): Promise<boolean> {
    const keys = [this.k.relays, this.k.seen, this.k.load];
    const r = await this.run((c) =>
      c.eval(TOUCH_SCRIPT, 3, ...keys, id, nowMs, JSON.stringify(load ?? null)),
    );
    return r === 1;
  }

  async removeRelay(id: string): Promise<boolean> {
    const res = await this.run((c) =>
      c.multi().hdel(this.k.relays, id).hdel(this.k.seen, id).hdel(this.k.load, id).exec(),
    );
    return res?.[0]?.[1] === 1;
  }

  async ringVersion(): Promise<number> {
    return Number((await this.run((c) => c.get(this.k.version))) ?? 0);
  }

  async bumpRingVersion(): Promise<number> {
    return this.run((c) => c.incr(this.k.version));
  }

  async listStreams(): Promise<StreamInfo[]> {
    const all = await this.run((c) => c.hgetall(this.k.streams));
    return Object.values(all).map((json) => JSON.parse(json) as StreamInfo);
  }

  async getStream(id: string): Promise<StreamInfo | undefined> {
    const json = await this.run((c) => c.hget(this.k.streams, id));
    return json === null ? undefined : (JSON.parse(json) as StreamInfo);
  }

  async putStream(stream: StreamInfo): Promise<void> {
    await this.run((c) => c.hset(this.k.streams, stream.id, JSON.stringify(stream)));
  }

  listRegistrations(): Promise<RegistrationSet> {
    return this.regs.list();
  }

  registrationsVersion(): Promise<number> {
    return this.regs.version();
  }

  getRegistration(id: string): Promise<StreamRegistration | undefined> {
    return this.regs.get(id);
  }

  findRegistrationByDigest(keyDigest: string): Promise<StreamRegistration | undefined> {
    return this.regs.findByDigest(keyDigest);
  }

  createRegistration(reg: StreamRegistration): Promise<boolean> {
    return this.regs.create(reg);
  }

  setRegistrationKey(id: string, keyDigest: string | null, nowMs: number) {
    return this.regs.setKey(id, keyDigest, nowMs);
  }

  removeRegistration(id: string): Promise<boolean> {
    return this.regs.remove(id);
  }

  async publish(event: ClusterEvent): Promise<void> {
    await this.run((c) => c.publish(this.k.channel, JSON.stringify(event)));
  }

  subscribe(handler: ClusterEventHandler): () => void {
    this.handlers.add(handler);
    return () => this.handlers.delete(handler);
  }

  private toRelay(json: string, seen: string | undefined, load: string | undefined): StoredRelay {
    const relay = JSON.parse(json) as StoredRelay;
    relay.lastSeenMs = Number(seen ?? 0);
    const parsed = load ? (JSON.parse(load) as RelayInfo['load'] | null) : undefined;
    if (parsed) relay.load = parsed;
    return relay;
  }

  private async run<T>(fn: (client: Redis) => Promise<T>): Promise<T> {
    if (!this.client || !this.up) throw new RingcastError('RC_STORE_UNAVAILABLE');
    try {
      return await fn(this.client);
    } catch (err) {
      throw new RingcastError('RC_STORE_UNAVAILABLE', undefined, { cause: err });
    }
  }

  private onMessage(text: string): void {
    let event: ClusterEvent;
    try {
      event = JSON.parse(text) as ClusterEvent;
    } catch {
      return;
    }
    for (const h of this.handlers) h(event);
  }

  private async onReady(): Promise<void> {
    try {
      await this.restore();
    } catch (err) {
      this.log.warn({ err }, 'restoring state into redis failed');
    }
    this.setUp(true);
  }

  /** Writes back what Redis lost (it may have restarted empty) without overwriting newer data. */
  private async restore(): Promise<void> {
    const snap = this.restoreSource?.();
    if (!snap || !this.client) return;
    const m = this.client.multi();
    for (const s of snap.streams) m.hsetnx(this.k.streams, s.id, JSON.stringify(s));
    for (const r of snap.relays) {
      const { lastSeenMs, load, ...info } = r;
      m.hsetnx(this.k.relays, r.id, JSON.stringify(info)).hsetnx(this.k.seen, r.id, lastSeenMs);
      if (load) m.hsetnx(this.k.load, r.id, JSON.stringify(load));
    }
    m.eval(RAISE_VERSION_SCRIPT, 1, this.k.version, snap.version);
    const regs = snap.registrations;
    if (regs) this.regs.addRestore(m, regs);
    await m.exec();
    this.log.info(
      { relays: snap.relays.length, streams: snap.streams.length, registrations: regs?.registrations.length },
      'redis connected; state restored',
    );
  }

  private setUp(up: boolean): void {
    if (up === this.up) return;
    this.up = up;
    if (up) this.log.info('redis available');
    else this.log.warn('redis unavailable; serving the last known state');
    for (const h of this.availabilityHandlers) h(up);
  }
}
