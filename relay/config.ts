import { type ConfigOf, type ConfigSpec, checkedLoader } from '../common/config.ts';
import { NAME_RE } from '../common/names.ts';
import { playbackKeysProblems } from '../common/playback-gate.ts';

const MiB = 1024 * 1024;

/** Every relay option; each is a flag (`--cache-bytes`) and a variable (`RINGCAST_CACHE_BYTES`). */
export const RELAY_CONFIG = {
  id: {
    type: 'string',
    default: '',
    doc: "relay id on the ring; '' = relay-<port> once bound",
    check: (v: unknown) => (v === '' || NAME_RE.test(String(v)) ? undefined : `must match ${NAME_RE.source}`),
  },
  host: { type: 'string', default: '127.0.0.1', doc: 'address to listen on' },
  port: { type: 'int', default: 8081, min: 0, max: 65535, doc: 'port to listen on (0 = the OS picks)' },
  publicUrl: {
    type: 'url',
    default: '',
    doc: "base URL viewers and peers use; '' = the bound address",
  },
  coordinatorUrl: {
    type: 'urls',
    default: [] as string[],
    doc: 'coordinator base URL, or several separated by commas to fail over between (required)',
  },
  clusterSecret: { type: 'string', default: '', doc: 'shared secret for calls to the coordinator' },
  playbackKeys: {
    type: 'list',
    default: [] as string[],
    doc: "keys that check private streams' playback tokens, kid=secret,...; '' = one derived from the cluster secret",
  },
  capacity: {
    type: 'number',
    default: 1,
    min: 0.1,
    max: 1000,
    doc: 'relative capacity (weight on the ring)',
  },
  cacheBytes: { type: 'int', default: 256 * MiB, min: MiB, doc: 'memory cache budget in bytes' },
  connectTimeoutMs: { type: 'int', default: 1000, min: 1, doc: 'upstream connect timeout' },
  firstByteTimeoutMs: { type: 'int', default: 3000, min: 1, doc: 'upstream time to response headers' },
  idleTimeoutMs: { type: 'int', default: 3000, min: 1, doc: 'upstream longest gap between body chunks' },
  blockingTimeoutMs: {
    type: 'int',
    default: 10000,
    min: 1,
    doc: 'time to headers for LL-HLS blocking playlist requests (longer than the origin hold)',
  },
  peerAttempts: { type: 'int', default: 2, min: 0, max: 16, doc: 'ring peers tried before the origin' },
  heartbeatIntervalMs: { type: 'int', default: 1000, min: 50, doc: 'heartbeat period to the coordinator' },
  drainMs: { type: 'int', default: 5000, min: 0, doc: 'time to keep serving after SIGTERM' },
  originBreakerMs: {
    type: 'int',
    default: 1000,
    min: 0,
    doc: 'after a failed origin fetch (connect error, reset, timeout), owner fills try the next ring member first until a probe of the origin answers; the wait before each probe; 0 = off',
  },
  fastPath: {
    type: 'bool',
    default: true,
    doc: 'answer plain keep-alive GET/HEAD of /live/ objects on raw sockets (off: Node http only)',
  },
  zeroCopy: {
    type: 'bool',
    default: false,
    doc: 'keep complete segments of 64 KiB or more in memfd regions and send them with sendfile (Linux; needs native/ built by scripts/setup.sh, else plain writes); off by default: with it on, LL-HLS playback stalled after a relay failover (docs/relay.md)',
  },
  tlsCert: {
    type: 'string',
    default: '',
    doc: "PEM certificate (chain) file: the port speaks HTTPS with HTTP/2 and HTTP/1.1; re-read when it changes on disk; '' = plain HTTP",
  },
  tlsKey: { type: 'string', default: '', doc: "PEM private key file of tlsCert; '' = plain HTTP" },
  tlsCa: {
    type: 'string',
    default: '',
    doc: "PEM file of the cluster's CA, trusted for https links to the coordinator, peers and origins ('' = the system's CAs)",
  },
  playlistMaxAgeMs: {
    type: 'int',
    default: 500,
    min: 0,
    max: 5000,
    doc: 'playlist cache lifetime; also capped below half the target duration',
  },
} satisfies ConfigSpec;

/** The loaded, frozen relay configuration. */
export type RelayConfig = ConfigOf<typeof RELAY_CONFIG>;

/**
 * Checks that span keys; one message per problem. A relay started from the command line always has a
 * coordinator (only tests and programs hand a Relay a cluster source of their own).
 */
export function crossCheck(config: RelayConfig): string[] {
  const problems: string[] = [];
  if (config.coordinatorUrl.length === 0) problems.push("'coordinatorUrl' is required (--coordinator-url)");
  // Every call to the coordinator carries it (docs/architecture.md, "Membership and the store").
  else if (config.clusterSecret === '')
    problems.push("'clusterSecret' is required with a coordinatorUrl (RINGCAST_CLUSTER_SECRET)");
  problems.push(...playbackKeysProblems(config.playbackKeys));
  // A blocking reload waits on the origin's hold: it may not give up before a plain request would.
  if (config.blockingTimeoutMs < config.firstByteTimeoutMs)
    problems.push(`'blockingTimeoutMs' must be at least firstByteTimeoutMs (${config.firstByteTimeoutMs})`);
  if ((config.tlsCert === '') !== (config.tlsKey === ''))
    problems.push("'tlsCert' and 'tlsKey' go together (--tls-cert, --tls-key)");
  // sendfile writes to the TCP socket under TLS: bytes in the clear on an encrypted connection.
  if (config.tlsCert !== '' && config.zeroCopy) problems.push("'zeroCopy' cannot be used with tlsCert");
  return problems;
}

/** Loads the relay config (defaults, env, flags, overrides) and runs the cross-key checks. */
export const loadRelayConfig = checkedLoader(RELAY_CONFIG, 'relay', crossCheck);
