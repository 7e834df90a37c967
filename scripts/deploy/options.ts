/** Command line of `scripts/deploy-relays`: one action, then flags, parsed into one options object. */
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { DeployError } from './errors.ts';

export const ACTIONS = ['local', 'ssh', 'status', 'stop', 'rolling-restart'] as const;
export type Action = (typeof ACTIONS)[number];

/** Settings every relay gets, locally or on a host (the hosts file can override them per host). */
export interface RelaySettings {
  cacheBytes: number;
  capacity: number;
  drainMs: number;
}

export interface DeployOptions {
  action: Action;
  dryRun: boolean;
  /** The checkout this script belongs to: what `local` runs. */
  repoDir: string;
  /** What `ssh` copies to the hosts (default: repoDir). */
  sourceDir: string;
  coordinatorUrl: string | undefined;
  secretFile: string | undefined;
  relay: RelaySettings;
  /** Longest wait for a draining relay's viewers to move away before it is stopped anyway. */
  drainTimeoutMs: number;
  /** Longest wait for a started relay to show up in the coordinator's ring. */
  joinTimeoutMs: number;
  local: { dir: string; count: number | undefined; basePort: number; host: string };
  ssh: {
    hostsFile: string | undefined;
    identityFile: string | undefined;
    knownHostsFile: string | undefined;
    remoteDir: string;
    runAs: string | undefined;
    connectTimeoutS: number;
  };
}

export const USAGE = `usage: scripts/deploy-relays <action> [options]

actions:
  local --count N            run N relays on this host (kept running; idempotent)
  ssh --hosts FILE           install and start one relay per line of FILE (idempotent)
  status [--hosts FILE]      the relays started here (or on the hosts) and their place in the ring
  stop [--hosts FILE]        stop them (they drain, then leave the ring)
  rolling-restart [--hosts FILE]
                             one relay at a time: drain, wait for viewers to move, restart, wait for the ring

options:
  --coordinator URL          coordinator base URL (local: remembered in --dir after the first run)
  --secret-file FILE         file holding the cluster secret (never given on the command line)
  --dry-run                  print what would be done, change nothing
  --count N                  local: number of relays
  --base-port P              local: first relay port, the next ones count up (default 8081; 0 = OS picks, then kept)
  --host ADDR                local: listen address (default 127.0.0.1)
  --dir DIR                  local: pid, log and env files (default .data/relays in the repository)
  --hosts FILE               ssh: hosts file (docs/operations.md describes the format)
  --identity FILE            ssh: private key (ssh -i)
  --known-hosts FILE         ssh: known hosts file (default: ssh's own)
  --remote-dir DIR           ssh: install directory on each host (default /opt/ringcast)
  --run-as USER              ssh: systemd User= for the relay (default: the ssh user)
  --source DIR               ssh: project to copy (default: this checkout)
  --cache-bytes N            relay memory cache budget (default 268435456)
  --capacity N               relay weight on the ring (default 1)
  --drain-ms MS              relay: time it keeps serving after SIGTERM (default 5000)
  --drain-timeout DURATION   rolling-restart: longest wait for viewers to leave a draining relay (default 60s)
  --join-timeout DURATION    longest wait for a relay to show up in the ring (default 30s)
  --connect-timeout DURATION ssh: connection timeout (default 10s)

Durations are milliseconds with a unit: 500ms, 30s, 2m (a bare number is seconds).`;

type FlagType = 'string' | 'int' | 'number' | 'duration' | 'bool';
const FLAGS: Record<string, FlagType> = {
  coordinator: 'string',
  'secret-file': 'string',
  'dry-run': 'bool',
  count: 'int',
  'base-port': 'int',
  host: 'string',
  dir: 'string',
  hosts: 'string',
  identity: 'string',
  'known-hosts': 'string',
  'remote-dir': 'string',
  'run-as': 'string',
  source: 'string',
  'cache-bytes': 'int',
  capacity: 'number',
  'drain-ms': 'int',
  'drain-timeout': 'duration',
  'join-timeout': 'duration',
  'connect-timeout': 'duration',
};

const REPO_DIR = fileURLToPath(new URL('../../', import.meta.url)).replace(/\/$/, '');

/** `30s` → 30000; `500ms` → 500; `2m` → 120000; `5` → 5000. */
export function parseDurationMs(raw: string): number | undefined {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(raw.trim());
  if (!m) return undefined;
  const n = Number(m[1]);
  return Math.round(m[2] === 'ms' ? n : m[2] === 'm' ? n * 60_000 : n * 1000);
}

function readFlags(argv: readonly string[], problems: string[]): Map<string, string | number | boolean> {
  const out = new Map<string, string | number | boolean>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const name = (eq > 0 ? arg.slice(0, eq) : arg).replace(/^--/, '');
    const type = arg.startsWith('--') ? FLAGS[name] : undefined;
    if (!type) {
      problems.push(`unknown option '${arg}'`);
      continue;
    }
    if (type === 'bool') {
      out.set(name, eq > 0 ? arg.slice(eq + 1) !== 'false' : true);
      continue;
    }
    const raw = eq > 0 ? arg.slice(eq + 1) : argv[++i];
    if (raw === undefined) {
      problems.push(`'--${name}' needs a value`);
      continue;
    }
    const value = convert(type, raw);
    if (value === undefined) problems.push(`'--${name}' must be ${describe(type)} (got '${raw}')`);
    else out.set(name, value);
  }
  return out;
}

function convert(type: FlagType, raw: string): string | number | undefined {
  if (type === 'string') return raw;
  if (type === 'duration') return parseDurationMs(raw);
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || n < 0) return undefined;
  return type === 'int' && !Number.isInteger(n) ? undefined : n;
}

function describe(type: FlagType): string {
  return type === 'int' ? 'a whole number' : type === 'duration' ? 'a duration like 30s' : 'a number';
}

/** The flags given, read by type; paths are resolved against the working directory. */
class GivenFlags {
  constructor(
    private readonly f: Map<string, string | number | boolean>,
    private readonly cwd: string,
  ) {}

  has(k: string): boolean {
    return this.f.has(k);
  }
  isOn(k: string): boolean {
    return this.f.get(k) === true;
  }
  str(k: string): string | undefined {
    return this.f.get(k) as string | undefined;
  }
  num(k: string, d: number): number {
    return (this.f.get(k) as number | undefined) ?? d;
  }
  path(k: string): string | undefined {
    const raw = this.str(k);
    return raw === undefined ? undefined : resolve(this.cwd, raw);
  }
}

/** What is wrong with an action and its flags taken together (each flag alone was checked by readFlags). */
function usageProblems(action: string | undefined, f: GivenFlags): string[] {
  const problems: string[] = [];
  if (action === 'local' && !f.has('count')) problems.push("'local' needs --count N");
  if (action === 'ssh' && !f.has('hosts')) problems.push("'ssh' needs --hosts FILE");
  if (f.has('count') && (f.num('count', 0) < 1 || f.num('count', 0) > 64))
    problems.push("'--count' must be between 1 and 64");
  if (f.num('base-port', 8081) > 65535) problems.push("'--base-port' must be at most 65535");
  const coordinator = f.str('coordinator');
  if (coordinator !== undefined && !/^https?:\/\/[^\s/]+/.test(coordinator))
    problems.push(`'--coordinator' must be an http(s) URL (got '${coordinator}')`);
  return problems;
}

/** Parses `argv` (without node and script) or throws DeployError DEPLOY_USAGE naming every problem. */
export function parseOptions(argv: readonly string[], cwd = process.cwd()): DeployOptions {
  const [action, ...rest] = argv;
  const problems: string[] = [];
  if (!ACTIONS.includes(action as Action)) problems.push(`unknown action '${action ?? ''}'`);
  const f = new GivenFlags(readFlags(rest, problems), cwd);
  problems.push(...usageProblems(action, f));
  if (problems.length > 0) throw new DeployError('DEPLOY_USAGE', problems.join('\n'));
  return toOptions(action as Action, f);
}

/** The options of a checked command line: each flag given, else its default (USAGE lists them). */
function toOptions(action: Action, f: GivenFlags): DeployOptions {
  return {
    action,
    dryRun: f.isOn('dry-run'),
    repoDir: REPO_DIR,
    sourceDir: f.path('source') ?? REPO_DIR,
    coordinatorUrl: f.str('coordinator')?.replace(/\/+$/, ''),
    secretFile: f.path('secret-file'),
    relay: {
      cacheBytes: f.num('cache-bytes', 256 * 1024 * 1024),
      capacity: f.num('capacity', 1),
      drainMs: f.num('drain-ms', 5000),
    },
    drainTimeoutMs: f.num('drain-timeout', 60_000),
    joinTimeoutMs: f.num('join-timeout', 30_000),
    local: {
      dir: f.path('dir') ?? resolve(REPO_DIR, '.data/relays'),
      count: f.has('count') ? f.num('count', 0) : undefined,
      basePort: f.num('base-port', 8081),
      host: f.str('host') ?? '127.0.0.1',
    },
    ssh: {
      hostsFile: f.path('hosts'),
      identityFile: f.path('identity'),
      knownHostsFile: f.path('known-hosts'),
      remoteDir: f.str('remote-dir') ?? '/opt/ringcast',
      runAs: f.str('run-as'),
      connectTimeoutS: Math.max(1, Math.round(f.num('connect-timeout', 10_000) / 1000)),
    },
  };
}
