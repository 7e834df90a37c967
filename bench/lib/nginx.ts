import { freePort } from '../../common/http.ts';

export { freePort };

import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** What nginx needs to serve HTTPS: the pair, and a second port that also speaks HTTP/2 (ALPN h2). */
export interface NginxTlsConf {
  certFile: string;
  keyFile: string;
  h2Port: number;
}

/**
 * nginx's config: one worker, state in `dir`, serving `root` on `port` with the cache headers a relay
 * sends. With `tls`: HTTPS/1.1 on `port` (no http2 there, so ALPN gives http/1.1) and HTTPS with h2 on
 * `tls.h2Port`, one certificate, a shared session cache and tickets; the cipher is left to the
 * client's preference, as Node does, so both servers pick the same one.
 */
export function nginxConf(dir: string, root: string, port: number, tls?: NginxTlsConf): string {
  const ssl = tls
    ? `  ssl_certificate ${tls.certFile};
  ssl_certificate_key ${tls.keyFile};
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_session_cache shared:ringcast:10m;
  ssl_session_timeout 1h;
  ssl_session_tickets on;
`
    : '';
  const listen = tls
    ? `listen 127.0.0.1:${port} ssl;
    listen 127.0.0.1:${tls.h2Port} ssl http2;`
    : `listen 127.0.0.1:${port};`;
  return `user root;
worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  sendfile on;
  tcp_nopush on;
  keepalive_requests 1000000;
  types { video/iso.segment m4s; application/vnd.apple.mpegurl m3u8; }
${ssl}  server {
    ${listen}
    root ${root};
    location ~ \\.m3u8$ { add_header Cache-Control "max-age=1"; }
    location / { add_header Cache-Control "public, max-age=31536000, immutable"; }
  }
}
`;
}

/** Polls `url` until it answers (at most 100 tries, 50 ms apart): nginx is up. */
async function waitAnswering(url: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      await fetch(`${url}/`, { signal: AbortSignal.timeout(500) });
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** Debian's nginx, one worker pinned to `core`, serving `root` with the cache headers a relay sends. */
export async function startNginx(
  dir: string,
  root: string,
  core: number,
): Promise<{ url: string; stop: () => void }> {
  const port = await freePort();
  mkdirSync(join(dir, 'logs'), { recursive: true });
  const conf = join(dir, 'nginx.conf');
  writeFileSync(conf, nginxConf(dir, root, port));
  const child: ChildProcess = spawn('taskset', ['-c', String(core), 'nginx', '-c', conf, '-p', dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const url = `http://127.0.0.1:${port}`;
  await waitAnswering(url);
  return { url, stop: () => child.kill('SIGQUIT') };
}
