import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { RingcastError } from '../common/errors.ts';
import type { Logger } from '../common/log.ts';
import type { StreamKeyData, StreamRegistrationData, StreamState } from '../common/types.ts';
import type { ClusterStore, RegistrationSet, StreamRegistration } from './store.ts';

/** Random bytes per key: 24 bytes are 32 url-safe characters, 192 bits. */
const KEY_BYTES = 24;

/** A new stream key: url-safe base64, fit for an OBS "Stream Key" field and an RTMP path. */
export function newStreamKey(): string {
  return randomBytes(KEY_BYTES).toString('base64url');
}

/**
 * What the store keeps of a key. Keys are 192 random bits, so a plain SHA-256 cannot be reversed or
 * guessed; a salt would only matter for low-entropy secrets, and the digest must stay deterministic
 * so that a key can be looked up by it.
 */
export function keyDigest(key: string): string {
  return createHash('sha256').update(`ringcast-stream-key:${key}`).digest('hex');
}

function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}

export interface StreamRegistryOptions {
  log: Logger;
  /** How often the local copy is checked against the store. */
  refreshIntervalMs: number;
}

/**
 * Stream registrations and their keys. The store is the truth; a local copy serves list and
 * publish-auth while the store is down and is written back to a Redis that restarted empty.
 */
export class StreamRegistry {
  private local = new Map<string, StreamRegistration>();
  private version = 0;
  private loaded = false;
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly log: Logger;

  constructor(
    private readonly store: ClusterStore,
    private readonly opts: StreamRegistryOptions,
  ) {
    this.log = opts.log.child({ component: 'stream-registry' });
  }

  async start(): Promise<void> {
    await this.refresh().catch((err) => this.log.warn({ err }, 'registrations not readable at start'));
    this.timer = setInterval(() => this.tick(), this.opts.refreshIntervalMs);
    this.timer.unref();
  }

  close(): void {
    clearInterval(this.timer);
  }

  /**
   * Registers a stream and returns its first key; RC_STREAM_EXISTS when the id is taken. A private
   * stream's viewers need a playback token.
   */
  async create(id: string, opts: { private?: boolean } = {}): Promise<StreamKeyData> {
    const key = newStreamKey();
    const now = Date.now();
    const reg: StreamRegistration = { id, createdAtMs: now, keyDigest: keyDigest(key), keyChangedAtMs: now };
    if (opts.private) reg.private = true;
    if (!(await this.store.createRegistration(reg)))
      throw new RingcastError('RC_STREAM_EXISTS', `stream '${id}' is already registered`);
    this.log.info({ streamId: id, private: reg.private === true }, 'stream registered');
    await this.afterWrite();
    return { id, key };
  }

  /** A new key for a registered stream (revoked or not); the old key is refused from now on. */
  async rotate(id: string): Promise<StreamKeyData> {
    const key = newStreamKey();
    if (!(await this.store.setRegistrationKey(id, keyDigest(key), Date.now()))) throw notRegistered(id);
    this.log.info({ streamId: id }, 'stream key rotated');
    await this.afterWrite();
    return { id, key };
  }

  /** No key publishes this stream until it is rotated. */
  async revoke(id: string): Promise<StreamRegistration> {
    const reg = await this.store.setRegistrationKey(id, null, Date.now());
    if (!reg) throw notRegistered(id);
    this.log.info({ streamId: id }, 'stream key revoked');
    await this.afterWrite();
    return reg;
  }

  async remove(id: string): Promise<void> {
    if (!(await this.store.removeRegistration(id))) throw notRegistered(id);
    this.log.info({ streamId: id }, 'stream registration removed');
    await this.afterWrite();
  }

  /** Every registration, sorted by id: from the store, or the local copy while it is down. */
  async list(): Promise<StreamRegistration[]> {
    const regs = this.store.available
      ? (await this.store.listRegistrations()).registrations
      : [...this.local.values()];
    return regs.sort((a, b) => a.id.localeCompare(b.id));
  }

  /** The stream a key publishes, or RC_KEY_REFUSED for an unknown, rotated-out or revoked key. */
  async authorize(key: string): Promise<string> {
    const digest = keyDigest(key);
    let reg: StreamRegistration | undefined;
    if (this.store.available) {
      try {
        reg = await this.store.findRegistrationByDigest(digest);
      } catch (err) {
        this.log.warn({ err }, 'store failed during publish-auth; using the last known registrations');
        reg = this.findLocal(digest);
      }
    } else {
      reg = this.findLocal(digest);
    }
    // The index only points at a candidate; the registration's own digest decides.
    if (!reg?.keyDigest || !sameDigest(reg.keyDigest, digest)) throw new RingcastError('RC_KEY_REFUSED');
    return reg.id;
  }

  /** Was the stream registered private? From the local copy (kept fresh from the store). */
  isPrivate(id: string): boolean {
    return this.local.get(id)?.private === true;
  }

  /** The local copy with its version, for a store that lost its data (Redis restart). */
  snapshotForRestore(): RegistrationSet {
    return { version: this.version, registrations: [...this.local.values()] };
  }

  /** Reloads the local copy when the store's registrations version moved past it. */
  async refresh(): Promise<void> {
    if (!this.store.available) return;
    if (this.loaded && (await this.store.registrationsVersion()) <= this.version) return;
    const set = await this.store.listRegistrations();
    // Reads may overlap: only a newer set replaces the copy. A lower version means the store lost
    // data without a reconnect we saw; our newer copy is kept for the restore.
    if (this.loaded && set.version <= this.version) return;
    this.local = new Map(set.registrations.map((r) => [r.id, r]));
    this.version = set.version;
    this.loaded = true;
  }

  private findLocal(digest: string): StreamRegistration | undefined {
    let found: StreamRegistration | undefined;
    // Compare against every entry, so the time taken does not depend on where a match is.
    for (const r of this.local.values()) if (r.keyDigest && sameDigest(r.keyDigest, digest)) found = r;
    return found;
  }

  private tick(): void {
    if (this.ticking) return;
    this.ticking = true;
    void this.refresh()
      .catch(() => undefined)
      .finally(() => {
        this.ticking = false;
      });
  }

  private async afterWrite(): Promise<void> {
    await this.refresh().catch((err) => this.log.warn({ err }, 'registrations not re-read after a write'));
  }
}

function notRegistered(id: string): RingcastError {
  return new RingcastError('RC_STREAM_NOT_FOUND', `stream '${id}' is not registered`);
}

/** The public view of a registration, with the live state the origin announced. */
export function toRegistrationData(
  reg: StreamRegistration,
  state: StreamState | null,
): StreamRegistrationData {
  return {
    id: reg.id,
    createdAt: new Date(reg.createdAtMs).toISOString(),
    keyState: reg.keyDigest ? 'active' : 'revoked',
    keyChangedAt: new Date(reg.keyChangedAtMs).toISOString(),
    state,
    ...(reg.private ? { private: true } : {}),
  };
}
