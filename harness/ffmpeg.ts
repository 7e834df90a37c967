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

/** What the OBS-like publisher sends; every default is what the tests publish. */
export interface PublisherOptions {
  /** Test pattern size; default 320x180. */
  size?: string;
  /** Frames per second; keyframes every 2 s of them. Default 15. */
  fps?: number;
  /** Stop after this much media; default: until killed. */
  seconds?: number;
  /** Paced as a live encoder (`-re`); false writes as fast as ffmpeg can (a file). Default true. */
  realTime?: boolean;
  /** The 440 Hz tone as AAC; default true. */
  audio?: boolean;
  /** The H.264 test pattern; false publishes audio only (a broken encoder). Default true. */
  video?: boolean;
  /** Video bit rate; default x264's own rate control. */
  videoBitsPerSecond?: number;
  /** Default 64 kb/s. */
  audioBitsPerSecond?: number;
  /** x264's zerolatency tune (no B-frames); false is OBS's default tune. Default true. */
  zeroLatency?: boolean;
}

/**
 * The ffmpeg arguments (after the common ones of `runFfmpeg`) of a publisher acting as OBS: a test
 * pattern and a tone, H.264 + AAC in FLV, written to `target` (an RTMP URL or a file).
 */
export function publisherArgs(target: string, opts: PublisherOptions = {}): string[] {
  const fps = opts.fps ?? 15;
  const video = opts.video ?? true;
  const audio = opts.audio ?? true;
  const inputs = [
    ...(video ? [['-f', 'lavfi', '-i', `testsrc2=size=${opts.size ?? '320x180'}:rate=${fps}`]] : []),
    ...(audio ? [['-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000']] : []),
  ];
  // -re on the first input paces the whole publish: the other lavfi input follows it.
  if (opts.realTime ?? true) inputs[0]!.unshift('-re');
  const videoOut = video
    ? [
        ...['-c:v', 'libx264', '-preset', 'veryfast'],
        ...((opts.zeroLatency ?? true) ? ['-tune', 'zerolatency'] : []),
        ...['-pix_fmt', 'yuv420p', '-g', String(fps * 2)],
        ...(opts.videoBitsPerSecond ? ['-b:v', `${Math.round(opts.videoBitsPerSecond / 1000)}k`] : []),
      ]
    : [];
  const audioOut = audio
    ? ['-c:a', 'aac', '-b:a', `${Math.round((opts.audioBitsPerSecond ?? 64_000) / 1000)}k`]
    : [];
  return [
    ...inputs.flat(),
    ...(opts.seconds ? ['-t', String(opts.seconds)] : []),
    ...videoOut,
    ...audioOut,
    ...['-f', 'flv', target],
  ];
}

/** Publishes the test pattern over RTMP the way OBS does (see `publisherArgs`). */
export function publishTestPattern(rtmpUrl: string, opts: PublisherOptions = {}): FfmpegRun {
  return runFfmpeg(publisherArgs(rtmpUrl, opts));
}
