import { isIP } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type ConfigOf, type ConfigSpec, checkedLoader } from '../common/config.ts';
import { playbackKeysProblems } from '../common/playback-gate.ts';

/** Where the player demo lives in this checkout; the coordinator serves it under `/player/`. */
const DEFAULT_PLAYER_DIR = fileURLToPath(new URL('../player-demo/', import.meta.url));

/** Every coordinator key, its default and the component that reads it. */
export const COORDINATOR_CONFIG = {
  host: { type: 'string', default: '127.0.0.1', doc: 'address the HTTP server binds' },
  port: { type: 'int', default: 8080, min: 0, max: 65535, doc: 'HTTP port (0: the OS picks one)' },
  publicUrl: {
    type: 'url',
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
  playbackKeys: {
    type: 'list',
    default: [] as string[],
    doc: "keys that sign and check private streams' playback tokens, kid=secret,...; '' = one derived from the cluster secret",
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
  trustedProxies: {
    type: 'list',
    default: [] as string[],
    doc: 'addresses of reverse proxies whose X-Forwarded-For names the client for per-address limits',
    check: (v: unknown) =>
      (v as string[]).every((a) => isIP(a) !== 0) ? undefined : 'must be IP addresses separated by commas',
  },
  eventsMaxSubscribers: {
    type: 'int',
    default: 256,
    min: 1,
    max: 100_000,
    doc: 'events: open streams in all, counted apart for the cluster stream and the dashboard view (429 beyond)',
  },
  eventsMaxPerAddress: {
    type: 'int',
    default: 4,
    min: 1,
    max: 10_000,
    doc: 'events: open dashboard-view streams per client address (IPv6: per /64; 429 beyond)',
  },
  eventsMaxBufferedBytes: {
    type: 'int',
    default: 1_048_576,
    min: 1024,
    max: 1_073_741_824,
    doc: 'events: a subscriber with more than this queued for it is dropped',
  },
  eventsStallTimeoutMs: {
    type: 'int',
    default: 10_000,
    min: 100,
    max: 600_000,
    doc: 'events: a subscriber whose connection has not drained for this long is dropped',
  },
  sessionsMaxPerAddress: {
    type: 'int',
    default: 256,
    min: 1,
    max: 1_000_000,
    doc: 'viewer balancer: sessions remembered per client address (IPv6: per /64); beyond, sessions are placed but not counted',
  },
  maxSessions: {
    type: 'int',
    default: 200_000,
    min: 1,
    max: 10_000_000,
    doc: 'viewer balancer: sessions remembered in all; beyond, new sessions are placed but not counted',
  },
  redisUrl: {
    type: 'string',
    default: '',
    doc: 'store: redis:// URL shared by several coordinators (empty: state in memory)',
    check: (v: unknown) =>
      v === '' || /^rediss?:\/\/\S+$/.test(String(v)) ? undefined : 'must be empty or a redis:// URL',
  },
  tlsCert: {
    type: 'string',
    default: '',
    doc: "PEM certificate (chain) file: HTTPS instead of HTTP, re-read when it changes on disk ('' = plain HTTP)",
  },
  tlsKey: { type: 'string', default: '', doc: "PEM private key file of tlsCert ('' = plain HTTP)" },
  playerDir: { type: 'string', default: DEFAULT_PLAYER_DIR, doc: 'static files served under /player/' },
} satisfies ConfigSpec;

export type CoordinatorConfig = ConfigOf<typeof COORDINATOR_CONFIG>;

/**
 * Checks that span keys; one message per problem. Each key is valid alone (the spec checked it); these
 * are the pairs that contradict each other.
 */
export function crossCheck(config: CoordinatorConfig): string[] {
  const problems: string[] = [];
  // Membership (docs/architecture.md, "Membership and the store"): a relay that misses one heartbeat
  // must not leave the ring, or every hiccup of a relay moves its share of the ring.
  if (config.relayTimeoutMs < 2 * config.heartbeatIntervalMs)
    problems.push(
      `'relayTimeoutMs' must be at least twice heartbeatIntervalMs (${2 * config.heartbeatIntervalMs})`,
    );
  if (config.sessionsMaxPerAddress > config.maxSessions)
    problems.push(`'sessionsMaxPerAddress' must be at most maxSessions (${config.maxSessions})`);
  if (config.eventsMaxPerAddress > config.eventsMaxSubscribers)
    problems.push(
      `'eventsMaxPerAddress' must be at most eventsMaxSubscribers (${config.eventsMaxSubscribers})`,
    );
  problems.push(...playbackKeysProblems(config.playbackKeys));
  if ((config.tlsCert === '') !== (config.tlsKey === ''))
    problems.push("'tlsCert' and 'tlsKey' go together (--tls-cert, --tls-key)");
  return problems;
}

/** Overrides by key, as tests and embedders pass them (checked like any other source). */
export type CoordinatorOverrides = Partial<Record<keyof typeof COORDINATOR_CONFIG, unknown>>;

/** The coordinator's one loader: defaults, environment, flags, overrides, then the cross-key checks. */
export const loadCoordinatorConfig = checkedLoader(COORDINATOR_CONFIG, 'coordinator', crossCheck);
