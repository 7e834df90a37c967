import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** What one h2load run reports. */
export interface H2loadResult {
  requestsPerSec: number;
  /** Its own "finished in" time. */
  seconds: number;
  succeeded: number;
  /** failed + errored + timeout requests. */
  failures: number;
  non2xx: number;
  /** `TLSv1.3 TLS_AES_256_GCM_SHA384 X25519 253 bits h2`: protocol, cipher, key exchange, ALPN. */
  tls: string;
}

export interface H2loadOptions {
  core: number;
  clients: number;
  /** Concurrent streams per client (`-m`). */
  streams: number;
  /** A timed run (`-D`), or `requests` in all (`-n`). */
  seconds?: number;
  requests?: number;
}

/** The one TLS 1.3 suite h2load offers. */
export const H2LOAD_TLS13_CIPHER = 'TLS_AES_256_GCM_SHA384';

/** Runs h2load (nghttp2-client) with one thread pinned to `core` and parses its summary. */
export async function h2load(url: string, o: H2loadOptions): Promise<H2loadResult> {
  const amount = o.seconds !== undefined ? ['-D', String(o.seconds)] : ['-n', String(o.requests)];
  const args = ['-c', String(o.core), 'h2load', '-t1', `-c${o.clients}`, `-m${o.streams}`, ...amount];
  // h2load lists AES-128 first: nginx takes the client's order, the relay (Node) its own (AES-256, as
  // wrk's OpenSSL asks first). Offering only that suite gives both servers the same cipher.
  args.push(`--tls13-ciphers=${H2LOAD_TLS13_CIPHER}`, url);
  const { stdout } = await run('taskset', args, {
    maxBuffer: 1 << 20,
    timeout: ((o.seconds ?? 60) + 60) * 1000,
  });
  return parseH2load(stdout);
}

/** h2load's summary; throws with the output when a line it needs is missing. */
export function parseH2load(out: string): H2loadResult {
  const finished = /finished in ([\d.]+)(s|ms|us), ([\d.]+) req\/s/.exec(out);
  const requests = /(\d+) succeeded, (\d+) failed, (\d+) errored, (\d+) timeout/.exec(out);
  const codes = /status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx/.exec(out);
  if (!finished || !requests || !codes) throw new Error(`h2load gave no summary:\n${out}`);
  const unit = { s: 1, ms: 1e-3, us: 1e-6 }[finished[2] as 's' | 'ms' | 'us'];
  const field = (name: string) => new RegExp(`${name}: ([^\\n]+)`).exec(out)?.[1]?.trim() ?? '?';
  return {
    requestsPerSec: Number(finished[3]),
    seconds: Number(finished[1]) * unit,
    succeeded: Number(requests[1]),
    failures: Number(requests[2]) + Number(requests[3]) + Number(requests[4]),
    non2xx: Number(codes[2]) + Number(codes[3]) + Number(codes[4]),
    tls: [
      field('TLS Protocol'),
      field('Cipher'),
      field('Server Temp Key'),
      field('Application protocol'),
    ].join(' '),
  };
}

/**
 * GETs `url` with curl (trusting `caFile` only, so the certificate is checked) and returns
 * `<HTTP version> <status>`, e.g. `2 200`: warms a cache and proves the protocol a listener speaks.
 */
export async function curlGet(url: string, protocol: '1.1' | '2', caFile?: string): Promise<string> {
  const args = ['-s', '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `--http${protocol}`];
  if (caFile) args.push('--cacert', caFile);
  const { stdout } = await run('curl', [...args, url], { timeout: 30_000 });
  return stdout.trim();
}

/**
 * What an OpenSSL client (wrk's library) negotiates with `url`'s server over ALPN http/1.1:
 * `TLSv1.3 TLS_AES_256_GCM_SHA384 X25519 http/1.1`.
 */
export function negotiatedTls(url: string): string {
  const { hostname, port } = new URL(url);
  const out = execFileSync(
    'openssl',
    ['s_client', '-connect', `${hostname}:${port}`, '-alpn', 'http/1.1', '-servername', 'localhost'],
    { input: '', timeout: 10_000, stdio: ['pipe', 'pipe', 'ignore'] },
  ).toString();
  const cipher = /New, (\S+), Cipher is (\S+)/.exec(out);
  const group = /Server Temp Key: ([^,\n]+)/.exec(out)?.[1] ?? '?';
  const alpn = /ALPN protocol: (\S+)/.exec(out)?.[1] ?? 'none';
  if (!cipher) throw new Error(`openssl s_client negotiated nothing with ${url}:\n${out}`);
  return `${cipher[1]} ${cipher[2]} ${group} ${alpn}`;
}

const TICKS_PER_SECOND = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim()) || 100;

/** CPU seconds (user + system, all threads) that process `pid` has used so far, from /proc. */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Fields after the command name (which may hold spaces): state is [0], utime [11], stime [12].
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND;
}
