import type { RenditionInfo } from '../common/types.ts';
import type { LadderRung } from './config.ts';
import type { SourceInfo } from './ladder-choice.ts';
import type { InitSection, PublishedSegment } from './segment-types.ts';

/**
 * One rendition as announced and listed in the master playlist: measured over the window once there are
 * segments; before, from the rung (maxrate + audio + ~10 % overhead) and the source's own size and rate.
 */
export function renditionInfoOf(
  rung: LadderRung,
  made: { init: InitSection | undefined; segments: readonly PublishedSegment[] },
  source: SourceInfo | undefined,
  fps: number,
): RenditionInfo {
  const { init } = made;
  const measured = measureBitrate(made.segments);
  const frameRate = rung.copy ? source?.fps : fps;
  const info: RenditionInfo = {
    name: rung.name,
    bandwidth: measured?.peak ?? Math.round((rung.videoBitsPerSecond * 1.1 + rung.audioBitsPerSecond) * 1.1),
    averageBandwidth:
      measured?.average ?? Math.round((rung.videoBitsPerSecond + rung.audioBitsPerSecond) * 1.05),
    width: init?.width ?? (rung.width || source?.width),
    height: init?.height ?? (rung.height || source?.height),
  };
  if (frameRate) info.frameRate = frameRate;
  if (init?.codecs) info.codecs = init.codecs;
  return info;
}

/** Peak and mean bits per second over the segments in the window (slivers under 0.1 s left out). */
export function measureBitrate(
  segments: readonly { duration: number; size: number }[],
): { peak: number; average: number } | undefined {
  const whole = segments.filter((s) => s.duration > 0.1);
  if (whole.length === 0) return undefined;
  const peak = Math.max(...whole.map((s) => (s.size * 8) / s.duration));
  const seconds = whole.reduce((a, s) => a + s.duration, 0);
  const bytes = whole.reduce((a, s) => a + s.size, 0);
  return { peak: Math.round(peak), average: Math.round((bytes * 8) / seconds) };
}

/** The stderr line that says what is wrong with the input, if there is one (the reason of state `error`). */
export function inputProblem(stderr: readonly string[]): string | undefined {
  const hint =
    /matches no streams|Stream specifier|Invalid data|not supported|Unsupported|Could not find codec|Decoder .* not found|no video|Connection refused|Input\/output error|timed out/i;
  const line = [...stderr].reverse().find((l) => hint.test(l)) ?? stderr.at(-1);
  if (!line) return undefined;
  const noSuchStream = /Stream specifier '[^']*:v'|\[0:v\].*matches no streams/.test(line);
  return (noSuchStream ? 'input has no video: ' : '') + line.trim().slice(0, 200);
}

/**
 * LL-HLS PART-TARGET: ffmpeg cuts a fragment once it holds 200 ms of whole frames; the first fragment
 * of a run is a little longer. 15% headroom covers it and keeps parts above 85% of the target.
 */
export const partTargetFor = (fps: number): number =>
  Math.ceil((Math.ceil(0.2 * fps - 1e-9) / fps) * 1150) / 1000;
