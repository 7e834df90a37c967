import { randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PartProcess, spawnPart, stopPart } from '../../cli/part-process.ts';
import { issueCert, openDemoCa } from '../../common/demo-ca.ts';
import { callJson, closeServer, listen } from '../../common/http.ts';
import { defaultPlaybackKey, mintToken } from '../../common/playback-token.ts';
import { type NginxTls, startNginxTls } from './nginx-tls.ts';
import { pin } from './processes.ts';

/** The two streams: the same media, one public, one registered private (its playlists need a token). */
export const PUBLIC_STREAM = 'bench';
export const PRIVATE_STREAM = 'benchprivate';
export const SEGMENT_PATH = '720p/100.m4s';
export const PLAYLIST_PATH = '720p/index.m3u8';

const SECRET = 'bench-secret';
// 'info': a part says where it listens in its `listening` line.
const ENV = { RINGCAST_CLUSTER_SECRET: SECRET, RINGCAST_LOG_LEVEL: 'info' };
const SERVER_CORE = 0;

/** Everything one run talks to, and how to stop it all. */
export interface TlsBench {
  caFile: string;
  nginx: NginxTls;
  /** The relay with `--tls-cert`: HTTPS with ALPN h2 and http/1.1 on one port. */
  tlsRelay: PartProcess;
  /** A plain HTTP relay (the token checks are measured without TLS in the way). */
  plainRelay: PartProcess;
  /** A playback token for PRIVATE_STREAM, valid for a day. */
  token: string;
}

/**
 * Starts a run's processes, each registered in `cleanups` as soon as it exists: the caller runs them
 * (in reverse) on every exit path, also when a start fails half way.
 */
export async function startTlsBench(cleanups: (() => Promise<void>)[]): Promise<TlsBench> {
  const dir = await mkdtemp(join(tmpdir(), 'ringcast-tls-bench-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  const root = join(dir, 'www');
  const media = { segment: randomBytes(1024 * 1024), playlist: mediaPlaylist() };
  await writeMedia(root, media);
  const ca = await openDemoCa(join(dir, 'ca'));
  const cert = await issueCert(ca, 'bench', ['127.0.0.1', 'localhost']);
  const origin = startOrigin(media);
  cleanups.push(() => closeServer(origin));
  const originUrl = await listen(origin, 0);
  const coordinator = await startPart(cleanups, 'coordinator', ['--port', '0']);
  await registerStreams(coordinator.url, originUrl);
  const relayArgs = ['--port', '0', '--coordinator-url', coordinator.url, '--tls-ca', ca.caFile];
  const tlsRelay = await startPart(cleanups, 'relay', [
    ...relayArgs,
    '--tls-cert',
    cert.certFile,
    '--tls-key',
    cert.keyFile,
  ]);
  const plainRelay = await startPart(cleanups, 'relay', relayArgs);
  const nginx = await startNginxTls({ dir: join(dir, 'nginx'), root, core: SERVER_CORE, ...cert });
  cleanups.push(() => nginx.stop());
  const token = mintToken([defaultPlaybackKey(SECRET)], {
    stream: PRIVATE_STREAM,
    expiresAt: Math.floor(Date.now() / 1000) + 24 * 3600,
  });
  return { caFile: ca.caFile, nginx, tlsRelay, plainRelay, token };
}

/** A part pinned to the servers' core (relays) or left free (the coordinator: not on the hot path). */
async function startPart(
  cleanups: (() => Promise<void>)[],
  part: 'coordinator' | 'relay',
  args: string[],
): Promise<PartProcess> {
  const started = await spawnPart({ part, args, env: ENV });
  cleanups.push(() => stopPart(started, 3000));
  if (part === 'relay') pin(started.child.pid!, SERVER_CORE);
  return started;
}

/** How both streams are announced: live, one rendition, from the stand-in origin. */
const LIVE_STREAM = {
  state: 'live',
  renditions: [{ name: '720p', bandwidth: 3_000_000 }],
  targetDuration: 2,
};

/** Both streams live from the stand-in origin; the private one registered private first. */
async function registerStreams(coordinatorUrl: string, originUrl: string): Promise<void> {
  const call = (path: string, method: string, body: unknown) =>
    callJson(`${coordinatorUrl}/api/v1/streams${path}`, { method, secret: SECRET, body });
  await call('', 'POST', { id: PRIVATE_STREAM, private: true });
  for (const id of [PUBLIC_STREAM, PRIVATE_STREAM])
    await call(`/${id}`, 'PUT', { ...LIVE_STREAM, originUrl });
}

/** The files nginx serves: the public stream's segment and playlist. */
async function writeMedia(root: string, media: { segment: Buffer; playlist: Buffer }): Promise<void> {
  const folder = join(root, 'live', PUBLIC_STREAM, '720p');
  await mkdir(folder, { recursive: true });
  await writeFile(join(root, 'live', PUBLIC_STREAM, SEGMENT_PATH), media.segment);
  await writeFile(join(root, 'live', PUBLIC_STREAM, PLAYLIST_PATH), media.playlist);
}

/** A stand-in origin: every stream's playlist and segment 100 are the same bytes. */
function startOrigin(media: { segment: Buffer; playlist: Buffer }): Server {
  return createServer((req, res) => {
    const path = req.url ?? '';
    const body = path.endsWith('/index.m3u8')
      ? media.playlist
      : path.endsWith('/100.m4s')
        ? media.segment
        : null;
    if (body === null) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-length': body.length, 'content-type': 'application/octet-stream' });
    res.end(body);
  });
}

/** A ~700 B live media playlist of six 2 s segments with program date-times. */
function mediaPlaylist(): Buffer {
  const lines = ['#EXTM3U', '#EXT-X-VERSION:7', '#EXT-X-TARGETDURATION:2', '#EXT-X-MEDIA-SEQUENCE:100'];
  lines.push('#EXT-X-INDEPENDENT-SEGMENTS', '#EXT-X-MAP:URI="init-0a1b2c3d.mp4"');
  for (let i = 0; i < 6; i++) {
    const second = String(i * 2).padStart(2, '0');
    lines.push(
      `#EXT-X-PROGRAM-DATE-TIME:2026-11-26T12:00:${second}.000Z`,
      '#EXTINF:2.000,',
      `${100 + i}.m4s`,
    );
  }
  return Buffer.from(`${lines.join('\n')}\n`);
}
