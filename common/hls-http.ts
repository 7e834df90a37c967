/**
 * The HTTP vocabulary every part speaks to players: content types, cache policies and CORS headers
 * (docs/architecture.md, URLs). One definition, so the origin, the relays and the coordinator answer a
 * player alike.
 */

export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl';

/** Content types of the files under `/live/`, by extension. */
export const LIVE_CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.m3u8': PLAYLIST_TYPE,
  '.m4s': 'video/iso.segment',
  '.mp4': 'video/mp4',
  '.ts': 'video/mp2t',
  '.aac': 'audio/aac',
  '.m4a': 'audio/mp4',
};

/** The content type of a `/live/` file name. */
export function liveContentType(file: string): string {
  return LIVE_CONTENT_TYPES[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream';
}

/** Segments, parts and init sections: their names change with their bytes, so they never go stale. */
export const IMMUTABLE = 'public, max-age=31536000, immutable';

/** Media playlists: shorter than half a target duration, so no cache hides a whole segment. */
export function playlistCacheControl(maxAgeMs: number): string {
  return `public, max-age=${Math.min(1, Math.floor(maxAgeMs / 1000))}`;
}

/** Per-viewer answers (master playlists, steering manifests): never cached. */
export const NO_STORE = 'no-store';

/** On every answer to a player: pages on other origins may read the body and Ringcast's own headers. */
export const CORS_HEADERS = {
  'access-control-allow-origin': '*',
  'access-control-expose-headers':
    'X-Ringcast-Relay, X-Ringcast-Cache, Content-Length, Content-Range, ETag, Age',
} as const;

/** The answer to a CORS preflight (OPTIONS): players send Range and If-None-Match. */
export const PREFLIGHT_HEADERS = {
  ...CORS_HEADERS,
  'access-control-allow-methods': 'GET, HEAD, OPTIONS',
  'access-control-allow-headers': 'Range, If-None-Match, Content-Type',
  'access-control-max-age': '86400',
} as const;
