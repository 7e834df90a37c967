import HLS from 'hls-parser';

/** The attributes of one tag line. */
export function attrs(line: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of line.slice(line.indexOf(':') + 1).matchAll(/([A-Z0-9-]+)=("[^"]*"|[^,]*)/g)) {
    out[m[1]!] = m[2]!.replace(/^"|"$/g, '');
  }
  return out;
}

/**
 * Parses with hls-parser, then reads the steering attributes from the text: hls-parser 0.16.1 writes
 * `#EXT-X-CONTENT-STEERING` but drops it when parsing (it looks for `-SERVER`), and reads a variant's
 * PATHWAY-ID from `STABLE-PATHWAY-ID`.
 */
export function parseMaster(text: string): HLS.types.MasterPlaylist {
  const playlist = HLS.parse(text) as HLS.types.MasterPlaylist;
  const lines = text.split('\n');
  const tags = lines.filter((l) => l.startsWith('#EXT-X-CONTENT-STEERING:'));
  if (tags.length > 1) throw new Error('more than one #EXT-X-CONTENT-STEERING tag');
  if (tags.length === 0) return playlist;
  const a = attrs(tags[0]!);
  playlist.contentSteering = new HLS.types.ContentSteering({
    serverUri: a['SERVER-URI']!,
    pathwayId: a['PATHWAY-ID']!,
  });
  const infs = lines.filter((l) => l.startsWith('#EXT-X-STREAM-INF:'));
  playlist.variants.forEach((v, i) => {
    v.pathwayId = attrs(infs[i]!)['PATHWAY-ID']!;
  });
  return playlist;
}
