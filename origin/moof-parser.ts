import { type BoxRange, child, children, type TopBox, type TrackInfo, whole } from './box-parser.ts';

/**
 * The fragments of fMP4 (`moof`): per track, its start time, duration, sample count and whether it
 * starts with a keyframe (ISO/IEC 14496-12 8.8), which is what the packager cuts segments and parts by.
 */

/** One track's run in a `moof`. */
export interface TrackFragment {
  trackId: number;
  /** `tfdt` base media decode time, in the track's timescale. */
  baseMediaDecodeTime: number;
  /** Sum of the sample durations, in the track's timescale. */
  duration: number;
  sampleCount: number;
  /** True when the first sample is a sync sample (keyframe). */
  startsWithSync: boolean;
}

/** A sample's flags mark it as a non-sync sample with this bit. */
const SAMPLE_IS_NON_SYNC = 0x10000;

/** A `traf`: its track, start time, and the sum of its runs (ISO/IEC 14496-12 8.8). */
function parseTraf(buf: Buffer, traf: BoxRange, tracks: TrackInfo[]): TrackFragment | undefined {
  const tfhd = child(buf, traf, 'tfhd');
  if (!tfhd) return undefined;
  const header = parseTfhd(buf, tfhd, tracks);
  let duration = 0;
  let sampleCount = 0;
  let firstFlags: number | undefined;
  for (const trun of children(buf, traf.start, traf.end).filter((b) => b.type === 'trun')) {
    const run = parseTrun(buf, trun, header);
    if (sampleCount === 0 && run.firstFlags !== undefined) firstFlags = run.firstFlags;
    duration += run.duration;
    sampleCount += run.sampleCount;
  }
  const startsWithSync = firstFlags !== undefined && (firstFlags & SAMPLE_IS_NON_SYNC) === 0;
  const baseMediaDecodeTime = parseTfdt(buf, child(buf, traf, 'tfdt'));
  return { trackId: header.trackId, baseMediaDecodeTime, duration, sampleCount, startsWithSync };
}

/** The sample defaults a `trun` falls back on: the `tfhd`'s own, else the track's `trex`. */
interface FragmentDefaults {
  trackId: number;
  defaultDuration: number;
  defaultFlags: number;
}

/** A `tfhd`: its track id, and the default sample duration and flags it overrides (by its flags). */
function parseTfhd(buf: Buffer, tfhd: BoxRange, tracks: TrackInfo[]): FragmentDefaults {
  const tfhdFlags = buf.readUInt32BE(tfhd.start) & 0xffffff;
  const trackId = buf.readUInt32BE(tfhd.start + 4);
  const track = tracks.find((t) => t.trackId === trackId);
  let at = tfhd.start + 8;
  if (tfhdFlags & 0x01) at += 8; // base-data-offset
  if (tfhdFlags & 0x02) at += 4; // sample-description-index
  let defaultDuration = track?.defaultSampleDuration ?? 0;
  let defaultFlags = track?.defaultSampleFlags ?? 0;
  if (tfhdFlags & 0x08) {
    defaultDuration = buf.readUInt32BE(at);
    at += 4;
  }
  if (tfhdFlags & 0x10) at += 4; // default-sample-size
  if (tfhdFlags & 0x20) defaultFlags = buf.readUInt32BE(at);
  return { trackId, defaultDuration, defaultFlags };
}

/** A `tfdt`'s base media decode time (version 1: 64-bit); 0 without one. */
function parseTfdt(buf: Buffer, tfdt: BoxRange | undefined): number {
  if (!tfdt) return 0;
  return buf[tfdt.start] === 1
    ? Number(buf.readBigUInt64BE(tfdt.start + 4))
    : buf.readUInt32BE(tfdt.start + 4);
}

/** One `trun`: its samples' total duration, their count, and the first sample's flags (none if empty). */
function parseTrun(
  buf: Buffer,
  trun: BoxRange,
  defaults: FragmentDefaults,
): { duration: number; sampleCount: number; firstFlags: number | undefined } {
  const flags = buf.readUInt32BE(trun.start) & 0xffffff;
  const count = buf.readUInt32BE(trun.start + 4);
  let p = trun.start + 8;
  const u32 = () => {
    p += 4;
    return buf.readUInt32BE(p - 4);
  };
  if (flags & 0x01) p += 4; // data-offset
  const firstSampleFlags = flags & 0x04 ? u32() : undefined;
  let duration = 0;
  let firstFlags: number | undefined;
  for (let i = 0; i < count; i++) {
    let sampleDuration = defaults.defaultDuration;
    let sampleFlags = i === 0 && firstSampleFlags !== undefined ? firstSampleFlags : defaults.defaultFlags;
    if (flags & 0x100) sampleDuration = u32();
    if (flags & 0x200) p += 4; // sample-size
    if (flags & 0x400) sampleFlags = u32();
    if (flags & 0x800) p += 4; // composition time offset
    if (i === 0) firstFlags = sampleFlags;
    duration += sampleDuration;
  }
  return { duration, sampleCount: count, firstFlags };
}

/** Parses the track fragments of a `moof` box. */
export function parseMoof(moof: TopBox, tracks: TrackInfo[]): TrackFragment[] {
  const buf = moof.data;
  const root = whole(moof);
  return children(buf, root.start, root.end)
    .filter((b) => b.type === 'traf')
    .map((traf) => parseTraf(buf, traf, tracks))
    .filter((t): t is TrackFragment => t !== undefined);
}
