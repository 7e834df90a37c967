import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { RingcastError } from '../common/errors.ts';

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.map': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
};

/** Each path segment: plain names only, so neither `..` nor hidden files nor odd bytes get through. */
const SEGMENT_RE = /^[A-Za-z0-9_-][A-Za-z0-9_.-]{0,127}$/;

/**
 * Maps the segments of a request path below a root (as express gives a `*wildcard`: split on `/`, each
 * percent-decoded) onto a file inside it, or throws RC_BAD_PATH. Segments are checked after decoding,
 * so encoded traversal (`%2e%2e`, `%2f`) is refused as well. An empty last segment (a trailing slash)
 * or no segment at all names the folder's index.html.
 */
export function resolveStaticPath(root: string, segments: readonly string[]): string {
  const names = [...segments];
  const folder = names.length === 0 || names.at(-1) === '';
  if (names.at(-1) === '') names.pop();
  for (const name of names)
    if (!SEGMENT_RE.test(name) || name.includes('..'))
      throw new RingcastError('RC_BAD_PATH', 'path segment is not allowed');
  if (folder) names.push('index.html');
  const base = resolve(root);
  const file = resolve(join(base, ...names));
  if (!file.startsWith(base + sep)) throw new RingcastError('RC_BAD_PATH', 'path leaves the static root');
  return file;
}

/** Streams a regular file with a content type from a short allow-list; 404 for anything else. */
export async function sendStaticFile(
  res: ServerResponse,
  file: string,
  opts: { head?: boolean } = {},
): Promise<void> {
  const type = CONTENT_TYPES[extname(file).toLowerCase()];
  if (!type) throw new RingcastError('RC_NOT_FOUND', 'file type is not served');
  const st = await stat(file).catch(() => undefined);
  if (!st?.isFile()) throw new RingcastError('RC_NOT_FOUND', 'no such file');
  res.writeHead(200, {
    'content-type': type,
    'content-length': st.size,
    // Demo assets change while developing; a short lifetime keeps reloads honest.
    'cache-control': 'public, max-age=10',
    'x-content-type-options': 'nosniff',
  });
  if (opts.head) {
    res.end();
    return;
  }
  await new Promise<void>((done, fail) => {
    const stream = createReadStream(file);
    stream.once('error', fail);
    res.once('close', () => {
      stream.destroy();
      done();
    });
    stream.pipe(res);
  });
}
