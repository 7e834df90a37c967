import { fileURLToPath } from 'node:url';
import type { RequestHandler } from 'express';
import { queryOf, type RouteSpec, row } from './route-table.ts';
import { resolveStaticPath, sendStaticFile } from './static-files.ts';

const DASHBOARD_FILE = fileURLToPath(new URL('./dashboard.html', import.meta.url));
const HLS_JS_FILE = fileURLToPath(new URL('../node_modules/hls.js/dist/hls.min.js', import.meta.url));

/** Serves one fixed file (HEAD: the headers only). */
function fixedFile(file: string): RequestHandler {
  return (req, res) => sendStaticFile(res, file, { head: req.method === 'HEAD' });
}

/** `/player/*file`: a file below the player folder; express gives the path as decoded segments. */
function playerFile(playerDir: string): RequestHandler {
  return (req, res) => {
    const segments = (req.params as Record<string, string[] | undefined>).file ?? [];
    return sendStaticFile(res, resolveStaticPath(playerDir, segments), { head: req.method === 'HEAD' });
  };
}

/** `/player`: relative links in the player page need the trailing slash; the query (?stream=…) stays. */
const toPlayerFolder: RequestHandler = (req, res) => {
  const q = queryOf(req).toString();
  res.writeHead(301, { location: `/player/${q ? `?${q}` : ''}` }).end();
};

/** The dashboard at `/` and the player demo under `/player/` (docs/coordinator.md). */
export function siteRoutes(opts: { playerDir: string }): RouteSpec[] {
  return [
    row('get', '/', fixedFile(DASHBOARD_FILE)),
    row('get', '/player', toPlayerFolder),
    row('get', '/player/hls.min.js', fixedFile(HLS_JS_FILE)),
    row('get', '/player/', playerFile(opts.playerDir)),
    row('get', '/player/*file', playerFile(opts.playerDir)),
  ];
}
