import type { RelayInfo, RenditionInfo, StreamInfo } from '../common/types.ts';

/** `/t/<token>` for a private stream's playback token, else nothing (docs/api.md, "Signed playback"). */
export function tokenPrefix(token: string | undefined): string {
  return token === undefined ? '' : `/t/${token}`;
}

/** The URL of one rendition's media playlist on a relay; a token rides as a path prefix. */
export function variantUrl(relay: RelayInfo, streamId: string, rendition: string, token?: string): string {
  return `${relay.url}${tokenPrefix(token)}/live/${streamId}/${rendition}/index.m3u8`;
}

/** The steering server URI for a session (also the manifest's RELOAD-URI). */
export function steeringUrl(publicUrl: string, streamId: string, session: string, token?: string): string {
  return `${publicUrl}${tokenPrefix(token)}/steer/${streamId}?session=${encodeURIComponent(session)}`;
}

function streamInf(r: RenditionInfo, pathwayId: string): string {
  const attrs = [`BANDWIDTH=${Math.round(r.bandwidth)}`];
  if (r.averageBandwidth) attrs.push(`AVERAGE-BANDWIDTH=${Math.round(r.averageBandwidth)}`);
  if (r.width && r.height) attrs.push(`RESOLUTION=${r.width}x${r.height}`);
  if (r.codecs) attrs.push(`CODECS="${r.codecs}"`);
  if (r.frameRate) attrs.push(`FRAME-RATE=${r.frameRate.toFixed(3)}`);
  attrs.push(`PATHWAY-ID="${pathwayId}"`, `STABLE-VARIANT-ID="${r.name}"`);
  return `#EXT-X-STREAM-INF:${attrs.join(',')}`;
}

/**
 * A master playlist whose variants sit on the session's primary relay, which is also the one pathway
 * the playlist defines; the steering manifest clones it for every other relay.
 */
export function buildMasterPlaylist(opts: {
  stream: StreamInfo;
  primary: RelayInfo;
  steeringUri: string;
  token?: string;
}): string {
  const { stream, primary } = opts;
  const lines = [
    '#EXTM3U',
    '#EXT-X-VERSION:7',
    '#EXT-X-INDEPENDENT-SEGMENTS',
    `#EXT-X-CONTENT-STEERING:SERVER-URI="${opts.steeringUri}",PATHWAY-ID="${primary.id}"`,
  ];
  // Highest bandwidth first: players that ignore ABR hints start with the best rendition.
  const renditions = [...stream.renditions].sort((a, b) => b.bandwidth - a.bandwidth);
  for (const r of renditions)
    lines.push(streamInf(r, primary.id), variantUrl(primary, stream.id, r.name, opts.token));
  return `${lines.join('\n')}\n`;
}

/** HLS Content Steering manifest (draft-pantos-hls-rfc8216bis, section 7). */
export interface SteeringManifest {
  VERSION: 1;
  TTL: number;
  'RELOAD-URI': string;
  'PATHWAY-PRIORITY': string[];
  'PATHWAY-CLONES': Array<{
    'BASE-ID': string;
    ID: string;
    'URI-REPLACEMENT': { HOST: string; 'PER-VARIANT-URIS': Record<string, string> };
  }>;
}

/**
 * The steering manifest for one session: its relays in order, each one not defined by the master
 * playlist cloned from the master's pathway with per-variant URIs (relays differ in port, which a
 * HOST replacement alone cannot express).
 */
export function buildSteeringManifest(opts: {
  stream: StreamInfo;
  relays: readonly RelayInfo[];
  basePathway: string;
  reloadUri: string;
  ttlSeconds: number;
  token?: string;
}): SteeringManifest {
  const clones = opts.relays
    .filter((r) => r.id !== opts.basePathway)
    .map((r) => ({
      'BASE-ID': opts.basePathway,
      ID: r.id,
      'URI-REPLACEMENT': {
        HOST: new URL(r.url).hostname,
        'PER-VARIANT-URIS': Object.fromEntries(
          opts.stream.renditions.map((v) => [v.name, variantUrl(r, opts.stream.id, v.name, opts.token)]),
        ),
      },
    }));
  return {
    VERSION: 1,
    TTL: opts.ttlSeconds,
    'RELOAD-URI': opts.reloadUri,
    'PATHWAY-PRIORITY': opts.relays.map((r) => r.id),
    'PATHWAY-CLONES': clones,
  };
}
