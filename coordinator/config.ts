import { fileURLToPath } from 'node:url';
import type { ConfigOf, ConfigSpec } from '../common/config.ts';

/** Where the player demo lives in this checkout; the coordinator serves it under `/player/`. */
const DEFAULT_PLAYER_DIR = fileURLToPath(new URL('../player-demo/', import.meta.url));

/** Every coordinator key, its default and the component that reads it. */
export const COORDINATOR_CONFIG = {
  host: { type: 'string', default: '127.0.0.1', doc: 'address the HTTP server binds' },
  port: { type: 'int', default: 8080, min: 0, max: 65535, doc: 'HTTP port (0: the OS picks one)' },
  publicUrl: {
    type: 'string',
    default: '',
    doc: 'base URL viewers use for steering (empty: from the request Host header)',
    check: (v: unknown) =>
      v === '' || /^https?:\/\/[^\s"]+$/.test(String(v)) ? undefined : 'must be empty or an http(s) URL',
  },
  clusterSecret: {
    type: 'string',
    default: '',
    doc: 'shared secret relays and origins present as a Bearer token (required)',
    check: (v: unknown) =>
      String(v).length >= 8 ? undefined : 'is required and must be at least 8 characters',
  },
  relayTimeoutMs: {
    type: 'int',
    default: 3000,
    min: 200,
    max: 600_000,
    doc: 'membership: a relay without a heartbeat for this long leaves the ring',
  },
  heartbeatIntervalMs: {
    type: 'int',
    default: 1000,
    min: 50,
    max: 60_000,
    doc: 'membership: heartbeat interval told to relays when they register',
  },
  loadFactor: {
    type: 'number',
    default: 1.1,
    min: 1,
    max: 10,
    doc: 'viewer balancer: no relay takes more than this times the mean of sessions (bounded loads)',
  },
  sessionTtlMs: {
    type: 'int',
    default: 30_000,
    min: 1000,
    max: 3_600_000,
    doc: 'viewer balancer: a session not seen (master or steering request) for this long is forgotten',
  },
  steeringTtlSeconds: {
    type: 'int',
    default: 5,
    min: 1,
    max: 3600,
    doc: 'steering: TTL players wait before reloading the steering manifest',
  },
  redisUrl: {
    type: 'string',
    default: '',
    doc: 'store: redis:// URL shared by several coordinators (empty: state in memory)',
    check: (v: unknown) =>
      v === '' || /^rediss?:\/\/\S+$/.test(String(v)) ? undefined : 'must be empty or a redis:// URL',
  },
  playerDir: { type: 'string', default: DEFAULT_PLAYER_DIR, doc: 'static files served under /player/' },
} satisfies ConfigSpec;

export type CoordinatorConfig = ConfigOf<typeof COORDINATOR_CONFIG>;
