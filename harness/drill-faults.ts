/**
 * Control-plane and transcoder faults, written once for the drill tests (test/drills/control-faults.test.ts)
 * and the simulator (bench/drills.ts): each is what to inject and the condition that says the cluster
 * recovered (docs/reliability.md, the drills).
 */
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { type PartProcess, spawnPart } from '../cli/part-process.ts';
import type { TestCluster } from './cluster.ts';
import { msnNow, servesFreshSegments } from './drill-kit.ts';
import type { TestRedis } from './redis.ts';

/** What runDrill needs of a fault: inject it (resolving with when recovery is timed from), poll recovery. */
export interface Fault {
  inject: () => Promise<number | undefined>;
  recovered: () => Promise<boolean>;
}

/** What a control-plane fault is checked against: the relays that must serve, and "the cluster is whole". */
export interface ControlFaultCheck {
  relayUrls: () => string[];
  /** True once every relay is back in the ring and the stream is live (as the caller defines it). */
  whole: () => Promise<boolean>;
}

/** The ffmpeg children of process `parentPid` (the origin's transcoders); none when pgrep finds none. */
export function ffmpegPids(parentPid: number): number[] {
  try {
    const out = execFileSync('pgrep', ['-P', String(parentPid), 'ffmpeg'], { encoding: 'utf8' });
    return out.trim().split('\n').filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/**
 * SIGKILL the coordinator and start a new process on its port with the same Redis (`started` is given
 * it, for the caller to stop); recovered once the cluster is whole and every relay serves a segment
 * published since the kill. Timed from the kill.
 */
export function coordinatorRestart(
  c: TestCluster,
  redisUrl: string,
  check: ControlFaultCheck,
  started: (coordinator: PartProcess) => void,
): Fault {
  let at = new Map<string, number>();
  const port = new URL(c.coordinator.url).port;
  return {
    inject: async () => {
      at = await msnNow(c);
      const killedAt = Date.now();
      c.coordinator.child.kill('SIGKILL');
      await c.coordinator.exited;
      started(
        await spawnPart({
          part: 'coordinator',
          args: ['--port', port, '--redis-url', redisUrl],
          env: { RINGCAST_CLUSTER_SECRET: c.secret, RINGCAST_LOG_LEVEL: 'info' },
          logFile: join(c.dir, 'coordinator-2.log'),
        }),
      );
      return killedAt;
    },
    recovered: async () => (await check.whole()) && servesFreshSegments(c.origin.url, check.relayUrls(), at),
  };
}

/** Redis stopped and started empty under the coordinator; recovered as coordinatorRestart. Timed from the stop. */
export function redisRestart(c: TestCluster, redis: TestRedis, check: ControlFaultCheck): Fault {
  let at = new Map<string, number>();
  return {
    inject: async () => {
      at = await msnNow(c);
      const stoppedAt = Date.now();
      await redis.stop();
      await redis.start();
      return stoppedAt;
    },
    recovered: async () => (await check.whole()) && servesFreshSegments(c.origin.url, check.relayUrls(), at),
  };
}

/**
 * SIGKILL the origin's ffmpeg (`killing` hears the pids first); recovered once a new ffmpeg runs and a
 * segment it made is served by every relay.
 */
export function transcoderKill(
  c: TestCluster,
  relayUrls: () => string[],
  killing: (pids: number[]) => void = () => {},
): Fault {
  let killed: number[] = [];
  let restarted: Map<string, number> | undefined;
  return {
    inject: async () => {
      killed = ffmpegPids(c.origin.child.pid!);
      killing(killed);
      for (const pid of killed) process.kill(pid, 'SIGKILL');
      return undefined;
    },
    recovered: async () => {
      if (!restarted) {
        const now = ffmpegPids(c.origin.child.pid!);
        if (now.length === 0 || now.some((p) => killed.includes(p))) return false;
        restarted = await msnNow(c);
      }
      return servesFreshSegments(c.origin.url, relayUrls(), restarted);
    },
  };
}
