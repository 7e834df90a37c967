import type { ChainableCommander, Redis } from 'ioredis';
import { RingcastError } from '../common/errors.ts';
import type { RegistrationSet, StreamRegistration } from './store.ts';

/** Runs a command on the store's client, or throws RC_STORE_UNAVAILABLE. */
export type RedisRun = <T>(fn: (client: Redis) => Promise<T>) => Promise<T>;

// Registration scripts keep the registration hash, the digest index and the version in one step.
// KEYS: registrations, key index, registrations version.
const CREATE_REGISTRATION_SCRIPT = `if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
if ARGV[3] ~= '' then redis.call('HSET', KEYS[2], ARGV[3], ARGV[1]) end
redis.call('INCR', KEYS[3])
return 1`;
// Compare-and-set on the registration read before: 0 gone, -1 changed meanwhile (read again), 1 done.
// ARGV: id, json read, new json ('' removes), old digest, new digest ('' for none).
const CHANGE_REGISTRATION_SCRIPT = `local cur = redis.call('HGET', KEYS[1], ARGV[1])
if not cur then return 0 end
if cur ~= ARGV[2] then return -1 end
if ARGV[4] ~= '' then redis.call('HDEL', KEYS[2], ARGV[4]) end
if ARGV[3] == '' then redis.call('HDEL', KEYS[1], ARGV[1])
else redis.call('HSET', KEYS[1], ARGV[1], ARGV[3]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[2], ARGV[5], ARGV[1]) end
redis.call('INCR', KEYS[3])
return 1`;
// Registrations are written back only by a coordinator whose copy is newer than what Redis holds
// (Redis restarted empty or from an old snapshot), and then replace it whole: a key rotated or revoked
// while Redis held an older copy must not come back. ARGV: version, then id, json, digest per registration.
const RESTORE_REGISTRATIONS_SCRIPT = `local cur = tonumber(redis.call('GET', KEYS[3]) or '0')
if tonumber(ARGV[1]) <= cur then return 0 end
redis.call('DEL', KEYS[1], KEYS[2])
for i = 2, #ARGV, 3 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
  if ARGV[i + 2] ~= '' then redis.call('HSET', KEYS[2], ARGV[i + 2], ARGV[i]) end
end
redis.call('SET', KEYS[3], ARGV[1])
return 1`;

/**
 * Stream registrations in Redis for RedisStore: the registrations hash (id → JSON with the key
 * digest), the digest index (digest → id) and the registrations version, always changed together.
 */
export class RedisRegistrations {
  private readonly k: { registrations: string; keyIndex: string; version: string };

  constructor(
    private readonly run: RedisRun,
    prefix: string,
  ) {
    this.k = {
      registrations: `${prefix}stream-keys`,
      keyIndex: `${prefix}stream-key-index`,
      version: `${prefix}stream-keys-version`,
    };
  }

  async list(): Promise<RegistrationSet> {
    const res = await this.run((c) => c.multi().hgetall(this.k.registrations).get(this.k.version).exec());
    const [all, version] = (res ?? []).map(([err, v]) => {
      if (err) throw new RingcastError('RC_STORE_UNAVAILABLE', undefined, { cause: err });
      return v;
    }) as [Record<string, string> | undefined, string | null | undefined];
    const registrations = Object.values(all ?? {}).map((json) => JSON.parse(json) as StreamRegistration);
    return { version: Number(version ?? 0), registrations };
  }

  async version(): Promise<number> {
    return Number((await this.run((c) => c.get(this.k.version))) ?? 0);
  }

  async get(id: string): Promise<StreamRegistration | undefined> {
    const json = await this.run((c) => c.hget(this.k.registrations, id));
    return json === null ? undefined : (JSON.parse(json) as StreamRegistration);
  }

  async findByDigest(keyDigest: string): Promise<StreamRegistration | undefined> {
    const id = await this.run((c) => c.hget(this.k.keyIndex, keyDigest));
    return id === null ? undefined : this.get(id);
  }

  async create(reg: StreamRegistration): Promise<boolean> {
    const r = await this.run((c) =>
      c.eval(CREATE_REGISTRATION_SCRIPT, 3, ...this.keys(), reg.id, JSON.stringify(reg), reg.keyDigest ?? ''),
    );
    return r === 1;
  }

  async setKey(id: string, keyDigest: string | null, nowMs: number): Promise<StreamRegistration | undefined> {
    let updated: StreamRegistration | undefined;
    const done = await this.change(id, (old) => {
      updated = { ...old, keyDigest, keyChangedAtMs: nowMs };
      return updated;
    });
    return done ? updated : undefined;
  }

  async remove(id: string): Promise<boolean> {
    return this.change(id, () => undefined);
  }

  /** Queues the write-back of a coordinator's copy; the script keeps Redis's when it is as new. */
  addRestore(m: ChainableCommander, set: RegistrationSet): void {
    if (set.version <= 0) return;
    const args = set.registrations.flatMap((r) => [r.id, JSON.stringify(r), r.keyDigest ?? '']);
    m.eval(RESTORE_REGISTRATIONS_SCRIPT, 3, ...this.keys(), set.version, ...args);
  }

  private keys(): [string, string, string] {
    return [this.k.registrations, this.k.keyIndex, this.k.version];
  }

  /** Compare-and-set of one registration (undefined from `change` removes it); false when not registered. */
  private async change(
    id: string,
    change: (old: StreamRegistration) => StreamRegistration | undefined,
  ): Promise<boolean> {
    for (let attempt = 0; attempt < 10; attempt++) {
      const json = await this.run((c) => c.hget(this.k.registrations, id));
      if (json === null) return false;
      const old = JSON.parse(json) as StreamRegistration;
      const next = change(old);
      const r = await this.run((c) =>
        c.eval(
          CHANGE_REGISTRATION_SCRIPT,
          3,
          ...this.keys(),
          id,
          json,
          next ? JSON.stringify(next) : '',
          old.keyDigest ?? '',
          next?.keyDigest ?? '',
        ),
      );
      if (r === 0) return false;
      if (r === 1) return true;
    }
    throw new RingcastError('RC_STORE_UNAVAILABLE', `registration ${id} kept changing; try again`);
  }
}
