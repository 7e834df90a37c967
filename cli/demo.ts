import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exitOnConfigError } from '../common/cli.ts';
import type { ConfigOf } from '../common/config.ts';
import { type PartProcess, spawnPart, stopPart } from './part-process.ts';

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
  streamKey: { type: 'string', default: '', doc: 'stream key for RTMP publishing (random when empty)' },
  ladder: {
    type: 'string',
    default: '',
    doc: "rendition ladder, as the origin's --ladder (origin default when empty)",
  },
  dataDir: { type: 'string', default: '', doc: 'where logs and segments go (a temp dir when empty)' },
  lowLatency: {
    type: 'bool',
    default: true,
    doc: 'serve Low-Latency HLS (200 ms parts, blocking reloads); --low-latency false for standard HLS',
  },
} as const;

export type DemoConfig = ConfigOf<typeof DEMO_CONFIG>;

/** What a running demo cluster is made of. */
export interface DemoCluster {
  coordinator: PartProcess;
  origin: PartProcess;
  relays: PartProcess[];
  streamKey: string;
  secret: string;
  dataDir: string;
  stop(): Promise<void>;
}

/** Starts a coordinator, an origin and N relays as child processes. */
export async function startDemoCluster(config: DemoConfig): Promise<DemoCluster> {
  const dataDir = config.dataDir || join(tmpdir(), `ringcast-demo-${process.pid}`);
  mkdirSync(dataDir, { recursive: true });
  const secret = randomBytes(18).toString('base64url');
  const streamKey =
    config.streamKey ||
    randomBytes(9)
      .toString('base64url')
      .replace(/[^A-Za-z0-9]/g, 'x');
  const env = { RINGCAST_CLUSTER_SECRET: secret };
  const started: PartProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => stopPart(p)));
  };
  try {
    const coordinator = await spawnPart({
      part: 'coordinator',
      args: ['--host', config.host, '--port', String(config.port)],
      env,
      logFile: join(dataDir, 'coordinator.log'),
    });
    started.push(coordinator);
    const originArgs = ['--host', config.host, '--port', '0', '--rtmp-port', String(config.rtmpPort)];
    originArgs.push(
      '--coordinator-url',
      coordinator.url,
      '--source',
      config.source,
      '--stream-key',
      streamKey,
    );
    originArgs.push('--data-dir', join(dataDir, 'origin'));
    if (config.ladder) originArgs.push('--ladder', config.ladder);
    if (config.lowLatency) originArgs.push('--low-latency');
    const relayPort = (i: number) => (config.port === 0 ? 0 : config.port + 1 + i);
    const [origin, ...relays] = await Promise.all([
      spawnPart({ part: 'origin', args: originArgs, env, logFile: join(dataDir, 'origin.log') }),
      ...Array.from({ length: config.relays }, (_, i) =>
        spawnPart({
          part: 'relay',
          args: ['--host', config.host, '--port', String(relayPort(i)), '--coordinator-url', coordinator.url],
          env,
          logFile: join(dataDir, `relay-${i + 1}.log`),
        }),
      ),
    ]);
    started.push(origin!, ...relays);
    return { coordinator, origin: origin!, relays, streamKey, secret, dataDir, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** `ringcast demo`: starts the cluster, prints the player URL and OBS settings, stops on SIGINT/SIGTERM. */
export async function runDemo(argv: string[]): Promise<void> {
  const config = exitOnConfigError('demo', DEMO_CONFIG, argv);
  const out = (s: string) => process.stdout.write(`${s}\n`);
  out('Starting a Ringcast demo cluster…');
  const cluster = await startDemoCluster(config);
  const rtmp = cluster.origin.rtmpUrl ?? `rtmp://${config.host}:${config.rtmpPort}/live`;
  out('');
  out(`  Player:          ${cluster.coordinator.url}/player/?stream=demo`);
  out(`  HLS (any player): ${cluster.coordinator.url}/live/demo/master.m3u8`);
  out(`  Dashboard:       ${cluster.coordinator.url}/`);
  out(`  Relays:          ${cluster.relays.map((r) => r.url).join(', ')}`);
  out(`  OBS:             Server ${rtmp}   Stream Key ${cluster.streamKey}`);
  out(
    `  Source:          ${config.source === 'testsrc' ? 'built-in test pattern (OBS publishing is refused while it runs)' : 'waiting for an RTMP publisher'}`,
  );
  out(`  Logs:            ${cluster.dataDir}`);
  out('');
  out('Ctrl-C stops everything.');
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
  // A part that dies on its own takes the demo down with a clear message, instead of a half-working cluster.
  for (const p of [cluster.coordinator, cluster.origin, ...cluster.relays]) {
    void p.exited.then(async (code) => {
      if (stopping) return;
      process.stderr.write(
        `ringcast demo: ${p.part} exited (${code}); last lines:\n${p.tail.slice(-10).join('\n')}\n`,
      );
      await shutdown();
    });
  }
  await new Promise(() => {});
}
