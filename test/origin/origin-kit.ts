import { execFileSync } from 'node:child_process';
import { silentLogger } from '../../common/log.ts';
import { type FfmpegRun, publishTestPattern } from '../../harness/ffmpeg.ts';
import { Origin } from '../../origin/app.ts';
import { loadOriginConfig } from '../../origin/config.ts';

// Media tests share 2 cores with other engineers: one origin at a time, tiny ladder, serial.
export const LADDER = '180p:320x180:300k:64k,90p:160x90:150k:48k';
export const SECRET = 'test-secret';

/** An origin on OS-chosen ports with the tiny ladder at 15 fps; `overrides` as config keys. */
export async function startOrigin(overrides: Record<string, unknown>) {
  const config = loadOriginConfig(
    [],
    {},
    {
      port: 0,
      rtmpPort: 0,
      ladder: LADDER,
      fps: 15,
      testsrcSize: '320x180',
      clusterSecret: SECRET,
      announceIntervalMs: 500,
      ...overrides,
    },
  );
  const origin = new Origin(config, { log: silentLogger() });
  const urls = await origin.start();
  return { origin, ...urls };
}

export const status = async (url: string, init?: RequestInit) => (await fetch(url, init)).status;
export const segmentsIn = (text: string) => (text.match(/#EXTINF/g) ?? []).length;

/** `pid args` of each child of this test process (publishers and the origin's transcoders). */
export const childProcesses = () =>
  execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], { encoding: 'utf8' }).split('\n');

/** The pids of the origin's transcoders (they PUT to `/ingest/`), those whose line also has `also`. */
export const transcoderPids = (also = '') =>
  childProcesses()
    .filter((l) => l.includes('/ingest/') && l.includes(also))
    .map((l) => Number(l.trim().split(' ')[0]));

/** Test-pattern publishers, killed by the file's `after.always`. */
export function publisherPool() {
  const runs: FfmpegRun[] = [];
  return {
    runs,
    publish(url: string, opts: { seconds?: number; video?: boolean } = {}) {
      const run = publishTestPattern(url, opts);
      runs.push(run);
      return run;
    },
    killAll: () => {
      for (const p of runs) p.kill();
    },
  };
}
