import type { Logger } from '../common/log.ts';
import type { LadderRung } from './config.ts';
import type { TranscodeInput } from './transcode-command.ts';

/** The publisher's video as it announced it (RTMP onMetaData); absent when it did not say. */
export interface SourceInfo {
  width: number;
  height: number;
  fps?: number;
  /** FLV codec of the input: `h264`, `aac`, `mp3`, `flv1`, `vp6`, … */
  videoCodec?: string;
  audioCodec?: string;
}

/**
 * The rungs to transcode: those larger than the source are skipped (at least the smallest encoded rung
 * stays); a pass-through rung needs an encoded input (not the lavfi test pattern).
 */
export function selectLadder(
  ladder: readonly LadderRung[],
  input: TranscodeInput,
  source: SourceInfo | undefined,
  log?: Logger,
): LadderRung[] {
  let rungs = ladder.filter((r) => !(r.copy && input.kind === 'testsrc'));
  // fMP4 and the CODECS attribute here are H.264: other video cannot pass through, only be transcoded.
  if (source?.videoCodec && source.videoCodec !== 'h264' && rungs.some((r) => r.copy)) {
    log?.warn(
      { videoCodec: source.videoCodec },
      'pass-through rendition skipped: the input video is not H.264',
    );
    rungs = rungs.filter((r) => !r.copy);
  }
  if (source && source.width > 0 && source.height > 0) {
    const kept = rungsThatFit(rungs, source);
    const skipped = rungs.filter((r) => !kept.includes(r)).map((r) => r.name);
    if (skipped.length > 0)
      log?.info(
        { skipped, source: `${source.width}x${source.height}` },
        'renditions above the input size skipped',
      );
    rungs = kept;
  }
  return rungs.length > 0 ? rungs : [...ladder.filter((r) => !r.copy)];
}

/** The rungs no larger than the source (pass-through always fits); the smallest encoded one if none does. */
function rungsThatFit(rungs: readonly LadderRung[], source: SourceInfo): LadderRung[] {
  const fits = (r: LadderRung) => r.copy || (r.width <= source.width && r.height <= source.height);
  const encoded = rungs.filter((r) => !r.copy);
  const smallest = encoded.reduce<LadderRung | undefined>(
    (a, r) => (!a || r.height < a.height ? r : a),
    undefined,
  );
  return rungs.filter((r) => fits(r) || (r === smallest && !encoded.some(fits)));
}

/** Pass-through AAC is copied; anything else (MP3, Speex), or no word from the publisher, decides here. */
export const copiesAudio = (source: SourceInfo | undefined): boolean =>
  !source?.audioCodec || source.audioCodec === 'aac';
