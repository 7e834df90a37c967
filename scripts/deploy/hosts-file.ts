/**
 * The hosts file of the `ssh` action: one relay per line, `[user@]host key=value ...`, `#` comments.
 *   root@10.0.0.5 port=22 relay-port=8081 public-url=http://relay1.example.net:8081
 * Keys: port (ssh), relay-port, public-url, listen, id, remote-dir, run-as, node, identity,
 * cache-bytes, capacity, drain-ms. Only the host is required.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DeployError } from './errors.ts';
import type { DeployOptions, RelaySettings } from './options.ts';

export interface HostEntry {
  /** Line number in the hosts file, for messages. */
  line: number;
  /** What ssh connects to: `user@host` or `host`. */
  target: string;
  hostname: string;
  sshPort: number;
  relayPort: number;
  /** Address the relay listens on (default 0.0.0.0). */
  listen: string;
  publicUrl: string;
  id: string;
  remoteDir: string;
  /** systemd User= (default: none, the unit runs as root or the ssh user). */
  runAs: string | undefined;
  /** Absolute path of node on the host (default: `command -v node` there). */
  node: string | undefined;
  identityFile: string | undefined;
  relay: RelaySettings;
}

const KEYS = new Set([
  'port',
  'relay-port',
  'public-url',
  'listen',
  'id',
  'remote-dir',
  'run-as',
  'node',
  'identity',
  'cache-bytes',
  'capacity',
  'drain-ms',
]);
const SAFE_PATH = /^\/[A-Za-z0-9_./-]*$/;
const SAFE_WORD = /^[A-Za-z0-9_.-]+$/;

/** Reads and checks the hosts file; every problem is reported at once (DEPLOY_HOSTS_FILE). */
export function readHostsFile(file: string, opts: DeployOptions): HostEntry[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new DeployError('DEPLOY_HOSTS_FILE', `hosts file ${file} cannot be read`, { cause: err });
  }
  const problems: string[] = [];
  const hosts: HostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const words = raw.replace(/#.*/, '').trim().split(/\s+/).filter(Boolean);
    if (words.length === 0) return;
    const entry = parseLine(words, i + 1, opts, file, (msg) => problems.push(`${file}:${i + 1}: ${msg}`));
    if (entry) hosts.push(entry);
  });
  const ids = new Map<string, number>();
  for (const h of hosts) {
    const first = ids.get(h.id);
    if (first !== undefined)
      problems.push(`${file}:${h.line}: relay id '${h.id}' already used on line ${first}`);
    ids.set(h.id, h.line);
  }
  if (hosts.length === 0 && problems.length === 0) problems.push(`${file}: no hosts`);
  if (problems.length > 0) throw new DeployError('DEPLOY_HOSTS_FILE', problems.join('\n'));
  return hosts;
}

type Problem = (msg: string) => void;

/** `key=value` words into a map; an unknown key or a word without `=` is a problem. */
export function readSettings(pairs: readonly string[], problem: Problem): Map<string, string> {
  const kv = new Map<string, string>();
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    const key = eq > 0 ? pair.slice(0, eq) : pair;
    if (!KEYS.has(key) || eq < 0) problem(`unknown or incomplete setting '${pair}'`);
    else kv.set(key, pair.slice(eq + 1));
  }
  return kv;
}

/** The host of `[user@]host` (an IPv6 address without its brackets); undefined when it is neither. */
export function targetHost(target: string): string | undefined {
  const m = /^(?:([a-z_][a-z0-9_-]*)@)?([A-Za-z0-9.-]+|\[[0-9a-fA-F:]+\])$/.exec(target);
  return m ? m[2]!.replace(/^\[|\]$/g, '') : undefined;
}

function parseLine(
  words: string[],
  line: number,
  opts: DeployOptions,
  file: string,
  problem: Problem,
): HostEntry | undefined {
  const [target, ...pairs] = words as [string, ...string[]];
  const kv = readSettings(pairs, problem);
  const hostname = targetHost(target);
  if (hostname === undefined) {
    problem(`'${target}' is not [user@]host`);
    return undefined;
  }
  const entry = buildEntry({ line, target, hostname, kv, opts, file }, problem);
  checkEntry(entry, problem);
  return entry;
}

/** A whole number setting from 1 to `max`, or its default when absent. */
function intSetting(
  kv: Map<string, string>,
  key: string,
  def: number,
  problem: Problem,
  max = Number.MAX_SAFE_INTEGER,
) {
  const raw = kv.get(key);
  if (raw === undefined) return def;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > max) problem(`'${key}' must be a whole number from 1 to ${max}`);
  return n;
}

interface LineFacts {
  line: number;
  target: string;
  hostname: string;
  kv: Map<string, string>;
  opts: DeployOptions;
  file: string;
}

/** The entry a line describes: its settings, else the command line's, else the defaults. */
function buildEntry(f: LineFacts, problem: Problem): HostEntry {
  const { kv, opts, hostname } = f;
  const int = (key: string, def: number, max?: number) => intSetting(kv, key, def, problem, max);
  const relayPort = int('relay-port', 8081, 65535);
  const hostForUrl = hostname.includes(':') ? `[${hostname}]` : hostname;
  return {
    line: f.line,
    target: f.target,
    hostname,
    sshPort: int('port', 22, 65535),
    relayPort,
    listen: kv.get('listen') ?? '0.0.0.0',
    publicUrl: (kv.get('public-url') ?? `http://${hostForUrl}:${relayPort}`).replace(/\/+$/, ''),
    id: kv.get('id') ?? `relay-${hostname.replace(/[^A-Za-z0-9_-]/g, '-')}-${relayPort}`.slice(0, 64),
    remoteDir: (kv.get('remote-dir') ?? opts.ssh.remoteDir).replace(/\/+$/, ''),
    runAs: kv.get('run-as') ?? opts.ssh.runAs,
    node: kv.get('node'),
    identityFile: kv.has('identity') ? resolve(f.file, '..', kv.get('identity')!) : opts.ssh.identityFile,
    relay: {
      cacheBytes: int('cache-bytes', opts.relay.cacheBytes),
      capacity: kv.has('capacity') ? Number(kv.get('capacity')) : opts.relay.capacity,
      drainMs: kv.has('drain-ms') ? int('drain-ms', opts.relay.drainMs) : opts.relay.drainMs,
    },
  };
}

/** Every value that reaches a remote shell or unit file must be safe there (docs/operations.md, the hosts file). */
function checkEntry(entry: HostEntry, problem: Problem): void {
  if (!/^https?:\/\/[A-Za-z0-9.:[\]-]+(:\d+)?$/.test(entry.publicUrl))
    problem(`'public-url' must be http(s)://host[:port]`);
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(entry.id)) problem(`'id' must match ^[A-Za-z0-9_-]{1,64}$`);
  if (!SAFE_PATH.test(entry.remoteDir) || entry.remoteDir === '')
    problem(`'remote-dir' must be an absolute path of letters, digits and ._/-`);
  if (entry.node !== undefined && !SAFE_PATH.test(entry.node)) problem(`'node' must be an absolute path`);
  if (entry.runAs !== undefined && !SAFE_WORD.test(entry.runAs)) problem(`'run-as' must be a user name`);
  if (!SAFE_WORD.test(entry.listen.replace(/[:[\]]/g, ''))) problem(`'listen' must be an address`);
  if (!(entry.relay.capacity >= 0.1 && entry.relay.capacity <= 1000))
    problem(`'capacity' must be from 0.1 to 1000`);
}

/** `user@host:relay-port`, for messages. */
export function hostLabel(h: HostEntry): string {
  return `${h.target}:${h.relayPort}`;
}
