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

/** Starts a real coordinator, origin and relays as child processes on OS-chosen ports. */
export async function startTestCluster(
  opts: {
    relays?: number;
    source?: 'testsrc' | 'rtmp';
    originArgs?: string[];
    relayArgs?: string[];
    coordinatorArgs?: string[];
  } = {},
): Promise<TestCluster> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-test-'));
  const secret = `secret-${process.pid}-${Date.now()}`;
  const streamKey = `key${process.pid}x${Date.now()}`;
  const env = { RINGCAST_CLUSTER_SECRET: secret, RINGCAST_LOG_LEVEL: 'info' };
  const started: PartProcess[] = [];
  const stop = async () => {
    await Promise.all(started.map((p) => stopPart(p, 3000)));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const coordinator = await spawnPart({
      part: 'coordinator',
      args: ['--port', '0', ...(opts.coordinatorArgs ?? [])],
      env,
      logFile: join(dir, 'coordinator.log'),
    });
    started.push(coordinator);
    const relays = await Promise.all(
      Array.from({ length: opts.relays ?? 3 }, (_, i) =>
        spawnPart({
          part: 'relay',
          args: ['--port', '0', '--coordinator-url', coordinator.url, ...(opts.relayArgs ?? [])],
          env,
          logFile: join(dir, `relay-${i}.log`),
        }),
      ),
    );
    started.push(...relays);
    const origin = await spawnPart({
      part: 'origin',
      args: [
        '--port',
        '0',
        '--rtmp-port',
        '0',
        '--coordinator-url',
        coordinator.url,
        '--source',
        opts.source ?? 'testsrc',
        '--stream-key',
        streamKey,
        '--ladder',
        TEST_LADDER,
        '--fps',
        '15',
        '--testsrc-size',
        '320x180',
        '--data-dir',
        join(dir, 'origin'),
        ...(opts.originArgs ?? []),
      ],
      env,
      logFile: join(dir, 'origin.log'),
    });
    started.push(origin);
    const cluster = async () => JSON.parse(await getText(`${coordinator.url}/api/v1/cluster`)) as ClusterView;
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
      const view = JSON.parse(await getText(`${coordinatorUrl}/api/v1/cluster`)) as ClusterView;
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
