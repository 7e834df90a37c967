import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitOnConfigError } from '../common/cli.ts';
import { ConfigError, type ConfigOf } from '../common/config.ts';
import { type DemoSecret, resolveDemoSecret } from './demo-secret.ts';
import { type DemoTls, demoTlsArgs, demoTlsEnv, prepareDemoTls, trustLines } from './demo-tls.ts';
import type { PartProcess, SpawnPartOptions } from './part-process.ts';
import { PartSupervisor, type RestartPolicy } from './part-supervisor.ts';

export const DEMO_CONFIG = {
  relays: { type: 'int', default: 3, min: 1, max: 32, doc: 'number of relays to start' },
  host: { type: 'string', default: '127.0.0.1', doc: 'address every part binds' },
  port: {
    type: 'int',
    default: 8080,
    min: 0,
    max: 65535,
    doc: 'coordinator HTTP port (relays take the next ports)',
  },
  rtmpPort: { type: 'int', default: 1935, min: 0, max: 65535, doc: 'origin RTMP port' },
  source: {
    type: 'string',
    default: 'testsrc',
    choices: ['testsrc', 'rtmp'],
    doc: 'built-in test pattern, or wait for an RTMP publisher',
  },
  streamKey: {
    type: 'string',
    default: '',
    doc: 'stream key for RTMP publishing (random when empty); RINGCAST_STREAM_KEY keeps it off the command line',
  },
  clusterSecretFile: {
    type: 'string',
    default: '',
    doc: "file holding the cluster secret (else RINGCAST_CLUSTER_SECRET, else a new one in the data dir's cluster-secret)",
  },
  ladder: {
    type: 'string',
    default: '',
    doc: "rendition ladder, as the origin's --ladder (origin default when empty)",
  },
  dataDir: {
    type: 'string',
    default: '',
    doc: 'where logs, segments and the generated secret go (a new private temp dir when empty)',
  },
  lowLatency: {
    type: 'bool',
    default: true,
    doc: 'serve Low-Latency HLS (200 ms parts, blocking reloads); --low-latency false for standard HLS',
  },
  tls: {
    type: 'bool',
    default: false,
    doc: "HTTPS (h2) on the coordinator and relays and RTMPS on the origin, with a CA made in the data dir's tls/",
  },
  rtmpsPort: { type: 'int', default: 1936, min: 0, max: 65535, doc: 'origin RTMPS port (with --tls true)' },
} as const;

export type DemoConfig = ConfigOf<typeof DEMO_CONFIG>;

/** What a running demo cluster is made of; each part is the process running now (parts are restarted). */
export interface DemoCluster {
  readonly coordinator: PartProcess;
  readonly origin: PartProcess;
  readonly relays: PartProcess[];
  /** Every part's supervisor: coordinator, origin, then the relays. */
  parts: PartSupervisor[];
  streamKey: string;
  secret: string;
  /** Where the secret came from and the file a grown fleet reads it from. */
  secretInfo: DemoSecret;
  dataDir: string;
  /** With --tls true: the CA and the parts' certificate. */
  tls?: DemoTls;
  stop(): Promise<void>;
}

/** What the demo needs besides its config (tests pass a small picture and collect the terminal lines). */
export interface DemoOptions {
  /** More environment for every part (e.g. RINGCAST_ORIGIN_FPS). */
  env?: NodeJS.ProcessEnv;
  /** One line for the terminal: a part exited, a part is back. */
  say?: (line: string) => void;
  policy?: RestartPolicy;
}

const portOf = (url: string) => new URL(url.replace(/^rtmps?:/, 'http:')).port;

/**
 * The demo's data directory: the one configured, else a new one of our own (mode 700, random name): a
 * name fixed by the pid can be made in advance by another user of the machine, or be a symlink, and the
 * secret and logs would go there.
 */
function demoDataDir(config: DemoConfig): string {
  const dataDir = config.dataDir || mkdtempSync(join(tmpdir(), 'ringcast-demo-'));
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  return dataDir;
}

/** The configured stream key, else a random one of letters and digits (what OBS's field takes as typed). */
function demoStreamKey(config: DemoConfig): string {
  return (
    config.streamKey ||
    randomBytes(9)
      .toString('base64url')
      .replace(/[^A-Za-z0-9]/g, 'x')
  );
}

const sayOnTerminal = (line: string) => void process.stdout.write(`ringcast demo: ${line}\n`);

/** Starts a coordinator, an origin and N relays as child processes, each restarted when it dies. */
export async function startDemoCluster(config: DemoConfig, opts: DemoOptions = {}): Promise<DemoCluster> {
  const dataDir = demoDataDir(config);
  const secretInfo = resolveDemoSecret({ file: config.clusterSecretFile, env: process.env, dataDir });
  const streamKey = demoStreamKey(config);
  const tls = config.tls ? await prepareDemoTls(dataDir, config.host) : undefined;
  const env = { ...opts.env, ...demoTlsEnv(tls), RINGCAST_CLUSTER_SECRET: secretInfo.secret };
  const spawns = new DemoSpawns(config, dataDir, env, tls);
  const say = opts.say ?? sayOnTerminal;
  const supervise = (label: string, spawn: (prev: PartProcess | undefined) => SpawnPartOptions) =>
    new PartSupervisor({ label, spawn, say, policy: opts.policy });
  const coordinator = supervise('coordinator', (prev) => spawns.coordinator(prev));
  const parts = [coordinator];
  const stop = async () => void (await Promise.all(parts.map((p) => p.stop())));
  try {
    const coordinatorUrl = (await coordinator.start()).url;
    const origin = supervise('origin', (prev) => spawns.origin(coordinatorUrl, streamKey, prev));
    const relays = Array.from({ length: config.relays }, (_, i) =>
      supervise(`relay ${i + 1}`, (prev) => spawns.relay(i, coordinatorUrl, prev)),
    );
    parts.push(origin, ...relays);
    await Promise.all([origin.start(), ...relays.map((r) => r.start())]);
    return {
      get coordinator() {
        return coordinator.current;
      },
      get origin() {
        return origin.current;
      },
      get relays() {
        return relays.map((r) => r.current);
      },
      parts,
      streamKey,
      secret: secretInfo.secret,
      secretInfo,
      dataDir,
      ...(tls ? { tls } : {}),
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/**
 * How each part is started. A restart (`prev` given) keeps the ports the part had, so the printed URLs
 * and the relays' coordinator URL stay true. Secrets go in the environment only: a command line is
 * readable by every user (ps, /proc).
 */
export class DemoSpawns {
  constructor(
    private readonly config: DemoConfig,
    private readonly dataDir: string,
    private readonly env: NodeJS.ProcessEnv,
    private readonly tls?: DemoTls,
  ) {}

  coordinator(prev: PartProcess | undefined): SpawnPartOptions {
    const port = prev ? portOf(prev.url) : String(this.config.port);
    return {
      part: 'coordinator',
      args: ['--host', this.config.host, '--port', port, ...demoTlsArgs('coordinator', this.tls, 0)],
      env: this.env,
      logFile: join(this.dataDir, 'coordinator.log'),
    };
  }

  origin(coordinatorUrl: string, streamKey: string, prev: PartProcess | undefined): SpawnPartOptions {
    const c = this.config;
    const rtmpPort = prev?.rtmpUrl ? portOf(prev.rtmpUrl) : String(c.rtmpPort);
    const args = ['--host', c.host, '--port', prev ? portOf(prev.url) : '0', '--rtmp-port', rtmpPort];
    args.push('--coordinator-url', coordinatorUrl, '--source', c.source);
    args.push('--data-dir', join(this.dataDir, 'origin'));
    if (c.ladder) args.push('--ladder', c.ladder);
    if (c.lowLatency) args.push('--low-latency');
    const rtmpsPort = prev?.rtmpsUrl ? Number(portOf(prev.rtmpsUrl)) : c.rtmpsPort;
    args.push(...demoTlsArgs('origin', this.tls, rtmpsPort));
    return {
      part: 'origin',
      args,
      env: { ...this.env, RINGCAST_ORIGIN_STREAM_KEY: streamKey },
      logFile: join(this.dataDir, 'origin.log'),
    };
  }

  relay(i: number, coordinatorUrl: string, prev: PartProcess | undefined): SpawnPartOptions {
    const c = this.config;
    const port = prev ? portOf(prev.url) : String(c.port === 0 ? 0 : c.port + 1 + i);
    return {
      part: 'relay',
      args: [
        '--host',
        c.host,
        '--port',
        port,
        '--coordinator-url',
        coordinatorUrl,
        ...demoTlsArgs('relay', this.tls, 0),
      ],
      env: this.env,
      logFile: join(this.dataDir, `relay-${i + 1}.log`),
    };
  }
}

/** The command that adds two relays to this demo (printed, so a new user can grow it). */
export function growCommand(cluster: DemoCluster): string {
  const ports = cluster.relays.map((r) => Number(portOf(r.url)));
  const consecutive = ports.every((p, i) => i === 0 || p === ports[i - 1]! + 1);
  const basePort = consecutive ? Math.max(...ports) + 1 : 0;
  const file = cluster.secretInfo.file ?? 'FILE-HOLDING-RINGCAST_CLUSTER_SECRET';
  return (
    `scripts/deploy-relays local --count 2 --base-port ${basePort} --dir ${join(cluster.dataDir, 'more-relays')} ` +
    `--secret-file ${file} --coordinator ${cluster.coordinator.url}`
  );
}

function secretLine(s: DemoSecret): string {
  if (s.source === 'generated') return `${s.file} (generated for this run, mode 600)`;
  return s.source === 'file' ? `from ${s.file}` : 'from RINGCAST_CLUSTER_SECRET';
}

/** `ringcast demo`: starts the cluster, prints the player URL and OBS settings, stops on SIGINT/SIGTERM. */
export async function runDemo(argv: string[]): Promise<void> {
  const config = exitOnConfigError('demo', DEMO_CONFIG, argv);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('Starting a Ringcast demo cluster…');
  let cluster: DemoCluster;
  try {
    cluster = await startDemoCluster(config);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ringcast demo: ${err.message}\n`);
    process.exit(2);
  }
  const rtmp = cluster.origin.rtmpUrl ?? `rtmp://${config.host}:${config.rtmpPort}/live`;
  out('');
  out(`  Player:          ${cluster.coordinator.url}/player/?stream=demo`);
  out(`  HLS (any player): ${cluster.coordinator.url}/live/demo/master.m3u8`);
  out(`  Dashboard:       ${cluster.coordinator.url}/`);
  out(`  Relays:          ${cluster.relays.map((r) => r.url).join(', ')}`);
  out(`  OBS:             Server ${rtmp}   Stream Key ${cluster.streamKey}`);
  if (cluster.origin.rtmpsUrl) out(`  OBS over TLS:    Server ${cluster.origin.rtmpsUrl}   (same key)`);
  out(
    `  Source:          ${config.source === 'testsrc' ? 'built-in test pattern (OBS publishing is refused while it runs)' : 'waiting for an RTMP publisher'}`,
  );
  out(`  Logs:            ${cluster.dataDir}`);
  out(`  Cluster secret:  ${secretLine(cluster.secretInfo)}`);
  out(`  More relays:     ${growCommand(cluster)}`);
  if (cluster.tls) {
    out(`  Demo CA:         ${cluster.tls.caFile} (trust it once; kept for the next runs)`);
    for (const line of trustLines(cluster.tls)) out(`  ${line}`);
  }
  out('');
  out('A part that dies is started again (the terminal says so). Ctrl-C stops everything.');
  let stopping = false;
  const shutdown = async () => {
    if (stopping) return;
    stopping = true;
    out('Stopping…');
    await cluster.stop();
    process.exit(0);
  };
  process.on('SIGINT', shutdown);
  process.on('SIGTERM', shutdown);
  await new Promise(() => {});
}
