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

type Command = ReturnType<typeof ffmpeg>;

/**
 * The ffmpeg arguments for one live stream: one input, a split and scale per rendition, and per
 * rendition a fragmented MP4 (CMAF chunks of ~200 ms) PUT to the origin's internal ingest server.
 * Flags and values are separate items: fluent-ffmpeg splits a string with one space in two.
 * Tests and benches call this, never a copy (test/origin/transcode-command.test.ts pins its output).
 */
export function transcodeArgs(opts: TranscodeOptions): string[] {
  const cmd = ffmpeg();
  const audio = addInput(cmd, opts.input);
  const encoded = opts.ladder.filter((r) => !r.copy);
  if (encoded.length > 0) cmd.complexFilter(scaleFilter(encoded, opts.fps));
  // The pass-through rung: the publisher's own H.264/AAC, refragmented (keyframes where the encoder put them).
  for (const r of opts.ladder.filter((x) => x.copy)) {
    cmd.output(opts.outputUrl(r.name)).outputOptions(passThroughArgs(audio, opts.copyAudio !== false));
  }
  encoded.forEach((r, i) => {
    cmd.output(opts.outputUrl(r.name)).outputOptions(encodedRungArgs(r, i, audio, opts));
  });
  return ['-hide_banner', '-nostdin', '-loglevel', 'warning', ...cmd._getArguments()];
}

/** Adds the input(s); returns the map specifier of the audio to use. */
function addInput(cmd: Command, input: TranscodeInput): string {
  if (input.kind === 'testsrc') {
    cmd.input(`testsrc2=size=${input.size}:rate=${input.fps}`).inputOptions(['-re', '-f', 'lavfi']);
    cmd.input('sine=frequency=440:sample_rate=48000').inputOptions(['-re', '-f', 'lavfi']);
    return '1:a';
  }
  // rw_timeout ends a pull that gets no data; the supervisor's own watchdog is quicker still.
  cmd.input(input.url).inputOptions(['-rw_timeout', '10000000']);
  // Optional: an encoder that sends no audio still gets video.
  return '0:a?';
}

/** One filter graph: the input at the output rate, split once per encoded rung, each scaled and padded. */
export function scaleFilter(encoded: readonly LadderRung[], fps: number): string {
  const splits = encoded.map((_, i) => `[s${i}]`).join('');
  const scales = encoded.map(
    (r, i) =>
      `[s${i}]scale=${r.width}:${r.height}:force_original_aspect_ratio=decrease,` +
      `pad=${r.width}:${r.height}:(ow-iw)/2:(oh-ih)/2,setsar=1[v${i}]`,
  );
  return `[0:v]fps=${fps},split=${encoded.length}${splits};${scales.join(';')}`;
}

/** The pass-through rung: video copied; AAC copied too, other audio re-encoded. */
export function passThroughArgs(audio: string, copyAudio: boolean): string[] {
  return [
    ...['-map', '0:v', '-map', audio, '-c:v', 'copy'],
    ...(copyAudio ? ['-c:a', 'copy'] : aacArgs('128k')),
    ...fragmentedMp4Args(),
  ];
}

/** One encoded rung: its scaled video `[v<index>]` through libx264, its audio through AAC. */
export function encodedRungArgs(
  rung: LadderRung,
  index: number,
  audio: string,
  opts: { fps: number; segmentSeconds: number },
): string[] {
  return [
    ...['-map', `[v${index}]`, '-map', audio],
    ...x264Args(rung, opts),
    ...aacArgs(`${Math.round(rung.audioBitsPerSecond / 1000)}k`),
    ...fragmentedMp4Args(),
  ];
}

/** libx264 at the rung's bitrate, with keyframes on the same media times in every rendition. */
function x264Args(rung: LadderRung, opts: { fps: number; segmentSeconds: number }): string[] {
  const kbps = Math.round(rung.videoBitsPerSecond / 1000);
  const gop = String(opts.fps * opts.segmentSeconds);
  return [
    ...['-c:v', 'libx264', '-preset', 'veryfast', '-tune', 'zerolatency', '-pix_fmt', 'yuv420p'],
    ...['-b:v', `${kbps}k`, '-maxrate', `${Math.round(kbps * 1.1)}k`, '-bufsize', `${kbps * 2}k`],
    // Keyframes on the same media times in every rendition, so segments align across the ladder.
    ...['-g', gop, '-keyint_min', gop, '-sc_threshold', '0'],
    ...['-force_key_frames', `expr:gte(t,n_forced*${opts.segmentSeconds})`],
  ];
}

/** Stereo AAC at 48 kHz. */
const aacArgs = (bitrate: string): string[] => ['-c:a', 'aac', '-b:a', bitrate, '-ar', '48000', '-ac', '2'];

/** CMAF chunks of ~200 ms (a fragment per keyframe too), flushed at once and PUT to the ingest server. */
const fragmentedMp4Args = (): string[] => [
  ...['-f', 'mp4', '-movflags', 'frag_keyframe+empty_moov+default_base_moof'],
  ...['-frag_duration', '200000', '-flush_packets', '1', '-method', 'PUT'],
];
