import { RingcastError } from './errors.ts';

/** Stream ids and rendition names. */
export const NAME_RE = /^[A-Za-z0-9_-]{1,64}$/;
/** File names inside a rendition. */
export const FILE_RE = /^[A-Za-z0-9_.-]{1,128}$/;
export const MEDIA_EXTENSIONS = ['.m4s', '.mp4', '.ts', '.aac', '.m4a'] as const;
export const PLAYLIST_EXTENSION = '.m3u8';

export type LiveObjectKind = 'master' | 'playlist' | 'segment' | 'init';

/** A parsed `/live/...` path. */
export interface LivePath {
  streamId: string;
  rendition?: string;
  file: string;
  kind: LiveObjectKind;
  /** Key on the consistent-hash ring (docs/architecture.md, Ring keys). */
  ringKey: string;
  /** Path after `/live/`, e.g. `demo/720p/42.m4s`. */
  relPath: string;
}

/** True for an LL-HLS part file name (`42.3.m4s`). */
export function isPartFile(file: string): boolean {
  return /^\d+\.\d+\.[a-z0-9]+$/.test(file);
}

/**
 * Parses the path of a live object (without query string) or throws RC_BAD_PATH.
 * Each segment is decoded before validation, so encoded traversal is refused too.
 */
export function parseLivePath(pathname: string): LivePath {
  // Split before decoding, so an encoded slash stays inside one segment and fails the name check.
  let parts: string[];
  try {
    parts = pathname.split('/').map(decodeURIComponent);
  } catch {
    throw new RingcastError('RC_BAD_PATH', 'path is not valid percent-encoding');
  }
  if (parts[0] !== '' || parts[1] !== 'live')
    throw new RingcastError('RC_BAD_PATH', 'path must start with /live/');
  const rest = parts.slice(2);
  if (rest.length === 2 && rest[1] === 'master.m3u8') {
    const streamId = checkName(rest[0]!, 'stream id');
    return {
      streamId,
      file: 'master.m3u8',
      kind: 'master',
      ringKey: streamId,
      relPath: `${streamId}/master.m3u8`,
    };
  }
  if (rest.length !== 3)
    throw new RingcastError('RC_BAD_PATH', 'path must be /live/:streamId/:rendition/:file');
  const streamId = checkName(rest[0]!, 'stream id');
  const rendition = checkName(rest[1]!, 'rendition');
  const file = rest[2]!;
  if (!FILE_RE.test(file) || file.startsWith('.'))
    throw new RingcastError('RC_BAD_PATH', 'file name is not valid');
  const relPath = `${streamId}/${rendition}/${file}`;
  if (file.endsWith(PLAYLIST_EXTENSION)) {
    return { streamId, rendition, file, kind: 'playlist', ringKey: `${streamId}/${rendition}`, relPath };
  }
  const ext = file.slice(file.lastIndexOf('.'));
  if (!(MEDIA_EXTENSIONS as readonly string[]).includes(ext)) {
    throw new RingcastError('RC_BAD_PATH', `file extension ${ext} is not served`);
  }
  const kind: LiveObjectKind = ext === '.mp4' ? 'init' : 'segment';
  // LL-HLS parts share the live edge's owner: the rendition (docs/architecture.md, Ring keys).
  const ringKey = isPartFile(file) ? `${streamId}/${rendition}` : relPath;
  return { streamId, rendition, file, kind, ringKey, relPath };
}

/** Validates a stream id or rendition name, throwing RC_BAD_PATH. */
export function checkName(value: string, what: string): string {
  if (!NAME_RE.test(value)) throw new RingcastError('RC_BAD_PATH', `${what} must match ${NAME_RE.source}`);
  return value;
}

/** File name of media segment `msn` of a rendition. */
export function segmentFileName(msn: number, ext = '.m4s'): string {
  return `${msn}${ext}`;
}

/** File name of part `part` of segment `msn` (LL-HLS). */
export function partFileName(msn: number, part: number, ext = '.m4s'): string {
  return `${msn}.${part}${ext}`;
}
