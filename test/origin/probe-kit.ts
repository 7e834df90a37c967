import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type HLS from 'hls-parser';

type Variant = InstanceType<typeof HLS.types.Variant>;
type ProbedStream = Record<string, string | number>;

/** ffprobe's streams of an init section followed by one segment (fetched), as one fMP4 file. */
export async function probeInitAndSegment(
  initUrl: string,
  segmentUrl: string,
): Promise<{ video: ProbedStream; audio: ProbedStream }> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-probe-'));
  try {
    const [init, seg] = await Promise.all(
      [initUrl, segmentUrl].map(async (u) => Buffer.from(await (await fetch(u)).arrayBuffer())),
    );
    const file = join(dir, 'probe.mp4');
    writeFileSync(file, Buffer.concat([init!, seg!]));
    const probe = JSON.parse(
      execFileSync('ffprobe', ['-v', 'error', '-show_streams', '-of', 'json', file], { encoding: 'utf8' }),
    ) as { streams: ProbedStream[] };
    return {
      video: probe.streams.find((s) => s.codec_type === 'video')!,
      audio: probe.streams.find((s) => s.codec_type === 'audio')!,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** What a master playlist says of a variant: codecs (profile and level of avc1), resolution, frame rate. */
export function variantAttributes(variant: Variant) {
  const [avc, mp4a] = variant.codecs!.split(',');
  return {
    video: 'h264',
    profile: avc!.slice(5, 7),
    level: Number.parseInt(avc!.slice(9, 11), 16),
    resolution: variant.resolution,
    frameRate: `${variant.frameRate}/1`,
    audio: 'aac',
    mp4a,
  };
}

const PROFILE_IDC: Record<string, number> = { High: 100, Main: 77, Baseline: 66, 'Constrained Baseline': 66 };

/** The same attributes as ffprobe reads them from the media. */
export function probedAttributes({ video, audio }: { video: ProbedStream; audio: ProbedStream }) {
  return {
    video: video.codec_name,
    profile: PROFILE_IDC[String(video.profile)]?.toString(16).padStart(2, '0'),
    level: Number(video.level),
    resolution: { width: Number(video.width), height: Number(video.height) },
    frameRate: video.r_frame_rate,
    audio: audio.codec_name,
    mp4a: audio.profile === 'LC' ? 'mp4a.40.2' : 'mp4a.40.5',
  };
}
