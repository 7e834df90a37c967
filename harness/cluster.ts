import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PartProcess, spawnPart, stopPart } from '../cli/part-process.ts';
import type { ClusterView } from '../common/types.ts';
import { getText, waitFor } from './wait.ts';

/** A tiny ladder for tests about the mesh, not the picture. */
export const TEST_LADDER = '180p:320x180:300k:64k,90p:160x90:150k:48k';

export interface TestCluster {
  coordinator: PartProcess;
  origin: PartProcess;
  relays: PartProcess[];
  secret: string;
  streamKey: string;
  dir: string;
  cluster(): Promise<ClusterView>;
  stop(): Promise<void>;
}

/** Where a test's parts run: their environment (the cluster secret) and the directory for logs and data. */
export interface TestPartsPlace {
  env: NodeJS.ProcessEnv;
  dir: string;
}

/** The cluster view a coordinator publishes (`GET /api/v1/cluster`). */
export async function clusterView(coordinatorUrl: string): Promise<ClusterView> {
  return JSON.parse(await getText(`${coordinatorUrl}/api/v1/cluster`)) as ClusterView;
}

/** `count` relays on OS-chosen ports following `coordinatorUrl` (comma-separated for several coordinators). */
export function spawnTestRelays(
  at: TestPartsPlace,
  count: number,
  coordinatorUrl: string,
  args: string[] = [],
): Promise<PartProcess[]> {
  return Promise.all(
    Array.from({ length: count }, (_, i) =>
      spawnPart({
        part: 'relay',
        args: ['--port', '0', '--coordinator-url', coordinatorUrl, ...args],
        env: at.env,
        logFile: join(at.dir, `relay-${i}.log`),
      }),
    ),
  );
}

export interface TestOriginOptions {
  coordinatorUrl: string;
  source?: 'testsrc' | 'rtmp';
  /** The key an RTMP publisher must give (a test pattern needs none). */
  streamKey?: string;
  args?: string[];
}

/** A test origin's flags: OS-chosen ports, the tiny ladder at 15 fps from a 320x180 pattern, data in `dir`. */
export function testOriginArgs(dir: string, o: TestOriginOptions): string[] {
  return [
    ...['--port', '0', '--rtmp-port', '0', '--coordinator-url', o.coordinatorUrl],
    ...['--source', o.source ?? 'testsrc'],
    ...(o.streamKey === undefined ? [] : ['--stream-key', o.streamKey]),
    ...['--ladder', TEST_LADDER, '--fps', '15', '--testsrc-size', '320x180'],
    ...['--data-dir', join(dir, 'origin'), ...(o.args ?? [])],
  ];
}

/** An origin for a test cluster, logging to `dir`/origin.log. */
export function spawnTestOrigin(at: TestPartsPlace, o: TestOriginOptions): Promise<PartProcess> {
  return spawnPart({
    part: 'origin',
    args: testOriginArgs(at.dir, o),
    env: at.env,
    logFile: join(at.dir, 'origin.log'),
  });
}

/** A coordinator on an OS-chosen port, logging to `dir`/`name`.log. */
export function spawnTestCoordinator(at: TestPartsPlace, args: string[] = [], name = 'coordinator') {
  return spawnPart({
    part: 'coordinator',
    args: ['--port', '0', ...args],
    env: at.env,
    logFile: join(at.dir, `${name}.log`),
  });
}

export interface TestClusterOptions {
  relays?: number;
  source?: 'testsrc' | 'rtmp';
  originArgs?: string[];
  relayArgs?: string[];
  coordinatorArgs?: string[];
}

/** Starts a real coordinator, origin and relays as child processes on OS-chosen ports. */
export async function startTestCluster(opts: TestClusterOptions = {}): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-test-'));
  const secret = `secret-${process.pid}-${Date.now()}`;
  const streamKey = `key${process.pid}x${Date.now()}`;
  const at = { env: { RINGCAST_CLUSTER_SECRET: secret, RINGCAST_LOG_LEVEL: 'info' }, dir };
  const started: PartProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => stopPart(p, 3000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const coordinator = await spawnTestCoordinator(at, opts.coordinatorArgs);
    started.push(coordinator);
    const relays = await spawnTestRelays(at, opts.relays ?? 3, coordinator.url, opts.relayArgs);
    started.push(...relays);
    const { source, originArgs: args } = opts;
    const origin = await spawnTestOrigin(at, { coordinatorUrl: coordinator.url, source, streamKey, args });
    started.push(origin);
    const cluster = () => clusterView(coordinator.url);
    await waitFor(async () => (await cluster()).ring.relays.length === relays.length, {
      what: 'relays in ring',
    });
    return { coordinator, origin, relays, secret, streamKey, dir, cluster, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** Waits until the coordinator reports the stream live and every rendition's playlist has `segments` segments. */
export async function waitForStream(
  coordinatorUrl: string,
  originUrl: string,
  streamId = 'demo',
  segments = 2,
): Promise<void> {
  await waitFor(
    async () => {
      const view = await clusterView(coordinatorUrl);
      const s = view.streams.find((x) => x.id === streamId);
      if (s?.state !== 'live' || s.renditions.length === 0) return false;
      const playlists = await Promise.all(
        s.renditions.map((r) =>
          getText(`${originUrl}/live/${streamId}/${r.name}/index.m3u8`).catch(() => ''),
        ),
      );
      return playlists.every((p) => (p.match(/#EXTINF/g) ?? []).length >= segments);
    },
    { timeoutMs: 40_000, what: `stream ${streamId} live with ${segments} segments in every rendition` },
  );
}

/** waitForStream for a test cluster. */
export function waitForLive(c: TestCluster, streamId = 'demo', segments = 2): Promise<void> {
  return waitForStream(c.coordinator.url, c.origin.url, streamId, segments);
}
