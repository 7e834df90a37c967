import ffmpeg from 'fluent-ffmpeg';
import type { LadderRung } from './config.ts';

/** Where the transcoder reads from. */
export type TranscodeInput = { kind: 'testsrc'; size: string; fps: number } | { kind: 'rtmp'; url: string };

export interface TranscodeOptions {
  input: TranscodeInput;
  ladder: readonly LadderRung[];
  fps: number;
  segmentSeconds: number;
  /** The pass-through rung copies the audio (AAC input); false re-encodes it to AAC. */
  copyAudio?: boolean;
  /** Upload URL of one rendition's fMP4 stream. */
  outputUrl: (rendition: string) => string;
}

/**
 * The ffmpeg arguments for one live stream: one input, a split and scale per rendition, and per
 * rendition a fragmented MP4 (CMAF chunks of ~200 ms) PUT to the origin's internal ingest server.
 * Flags and values are separate items: fluent-ffmpeg splits a string with one space in two.
 */
export function transcodeArgs(opts: TranscodeOptions): string[] {
  const cmd = ffmpeg();
  let audio: string;
  if (opts.input.kind === 'testsrc') {
    const { size, fps } = opts.input;
    cmd.input(`testsrc2=size=${size}:rate=${fps}`).inputOptions(['-re', '-f', 'lavfi']);
    cmd.input('sine=frequency=440:sample_rate=48000').inputOptions(['-re', '-f', 'lavfi']);
    audio = '1:a';
  } else {
    // rw_timeout ends a pull that gets no data; the supervisor's own watchdog is quicker still.
    cmd.input(opts.input.url).inputOptions(['-rw_timeout', '10000000']);
    // Optional: an encoder that sends no audio still gets video.
    audio = '0:a?';
  }
  const encoded = opts.ladder.filter((r) => !r.copy);
  const n = encoded.length;
  const splits = encoded.map((_, i) => `[s${i}]`).join('');
  const scales = encoded.map(
    (r, i) =>
      `[s${i}]scale=${r.width}:${r.height}:force_original_aspect_ratio=decrease,` +
      `pad=${r.width}:${r.height}:(ow-iw)/2:(oh-ih)/2,setsar=1[v${i}]`,
  );
  if (n > 0) cmd.complexFilter(`[0:v]fps=${opts.fps},split=${n}${splits};${scales.join(';')}`);
  const gop = String(opts.fps * opts.segmentSeconds);
  // The pass-through rung: the publisher's own H.264/AAC, refragmented (keyframes where the encoder put them).
  for (const r of opts.ladder.filter((x) => x.copy)) {
    cmd
      .output(opts.outputUrl(r.name))
      .outputOptions([
        ...['-map', '0:v', '-map', audio, '-c:v', 'copy'],
        ...(opts.copyAudio === false
          ? ['-c:a', 'aac', '-b:a', '128k', '-ar', '48000', '-ac', '2']
          : ['-c:a', 'copy']),
        ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
        ...['-frag_duration', '200000', '-flush_packets', '1', '-method', 'PUT'],
      ]);
  }
  encoded.forEach((r, i) => {
    const kbps = Math.round(r.videoBitsPerSecond / 1000);
    cmd.output(opts.outputUrl(r.name)).outputOptions([
      '-map',
      `[v${i}]`,
      '-map',
      audio,
      '-c:v',
      'libx264',
      '-preset',
      'veryfast',
      '-tune',
      'zerolatency',
      '-pix_fmt',
      'yuv420p',
      '-b:v',
      `${kbps}k`,
      '-maxrate',
      `${Math.round(kbps * 1.1)}k`,
      '-bufsize',
      `${kbps * 2}k`,
      // Keyframes on the same media times in every rendition, so segments align across the ladder.
      '-g',
      gop,
      '-keyint_min',
      gop,
      '-sc_threshold',
      '0',
      '-force_key_frames',
      `expr:gte(t,n_forced*${opts.segmentSeconds})`,
      '-c:a',
      'aac',
      '-b:a',
      `${Math.round(r.audioBitsPerSecond / 1000)}k`,
      '-ar',
      '48000',
      '-ac',
      '2',
      '-f',
      'mp4',
      '-movflags',
      'frag_keyframe+empty_moov+default_base_moof',
      '-frag_duration',
      '200000',
      '-flush_packets',
      '1',
      '-method',
      'PUT',
    ]);
  });
  return ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...cmd._getArguments()];
}
