import { type ChildProcess, spawn } from 'node:child_process';

export interface FfmpegRun {
  child: ChildProcess;
  stderr: () => string;
  exited: Promise<number | null>;
  kill: () => void;
}

/** Runs Debian's ffmpeg with the given arguments, keeping the last stderr for assertions. */
export function runFfmpeg(args: string[]): FfmpegRun {
  const child = spawn('ffmpeg', ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err = (err + d.toString()).slice(-8000);
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    exited,
    kill: () => {
      if (child.exitCode === null) child.kill('SIGKILL');
    },
  };
}

/** Publishes a small test pattern over RTMP the way OBS does (H.264 + AAC in FLV, 2 s keyframes). */
export function publishTestPattern(
  rtmpUrl: string,
  opts: { size?: string; fps?: number; seconds?: number } = {},
): FfmpegRun {
  const fps = opts.fps ?? 15;
  return runFfmpeg([
    '-re',
    '-f',
    'lavfi',
    '-i',
    `testsrc2=size=${opts.size ?? '320x180'}:rate=${fps}`,
    '-f',
    'lavfi',
    '-i',
    'sine=frequency=440:sample_rate=48000',
    ...(opts.seconds ? ['-t', String(opts.seconds)] : []),
    '-c:v',
    'libx264',
    '-preset',
    'veryfast',
    '-tune',
    'zerolatency',
    '-pix_fmt',
    'yuv420p',
    '-g',
    String(fps * 2),
    '-c:a',
    'aac',
    '-b:a',
    '64k',
    '-f',
    'flv',
    rtmpUrl,
  ]);
}
