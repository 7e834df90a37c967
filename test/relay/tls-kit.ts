/** Shared by the TLS tests: a demo CA in a temp dir, curl over HTTPS, an HTTP/2 client, fingerprints. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { type ClientHttp2Session, connect as h2connect, type IncomingHttpHeaders } from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { type DemoCa, type IssuedCert, issueCert, openDemoCa } from '../../common/demo-ca.ts';

const run = promisify(execFile);

export interface TestCa {
  ca: DemoCa;
  caPem: Buffer;
  leaf: IssuedCert;
  /** Issues the leaf again (new key and certificate on disk, as a renewal does). */
  renew(): Promise<IssuedCert>;
}

/** A CA and a leaf for localhost and 127.0.0.1 in a temp dir removed after the test. */
export async function testCa(t: ExecutionContext): Promise<TestCa> {
  const dir = await mkdtemp(join(tmpdir(), 'ringcast-tls-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const ca = await openDemoCa(dir);
  const hosts = ['localhost', '127.0.0.1'];
  const leaf = await issueCert(ca, 'edge', hosts);
  return { ca, caPem: await readFile(ca.caFile), leaf, renew: () => issueCert(ca, 'edge', hosts) };
}

export interface CurlAnswer {
  status: number;
  version: string;
  headers: Map<string, string>;
  body: string;
}

/**
 * One curl call trusting only `caFile` (`--http2` or `--http1.1`, extra args as given); the status line
 * and headers of the last response, the version curl used, and the body.
 */
export async function curl(caFile: string, url: string, args: string[] = []): Promise<CurlAnswer> {
  const { stdout } = await run(
    'curl',
    ['-sS', '--cacert', caFile, '-D', '-', '-w', '\n%{http_version}', ...args, url],
    { timeout: 20_000 },
  );
  const text = stdout.toString();
  const cut = text.lastIndexOf('\n');
  const version = text.slice(cut + 1);
  const [head, ...rest] = text.slice(0, cut).split('\r\n\r\n');
  const lines = head!.split('\r\n');
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const c = line.indexOf(':');
    headers.set(line.slice(0, c).toLowerCase(), line.slice(c + 1).trim());
  }
  return { status: Number(lines[0]!.split(' ')[1]), version, headers, body: rest.join('\r\n\r\n') };
}

/** The fingerprint of the certificate a new TLS connection to `port` is shown (checked against `ca`). */
export function presented(port: number, ca: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', servername: 'localhost', ca }, () => {
      resolve(socket.getPeerCertificate().fingerprint256);
      socket.end();
    });
    socket.on('error', reject);
  });
}

/** An HTTP/2 session to `url` trusting `ca`, closed after the test. */
export function h2session(t: ExecutionContext, url: string, ca: Buffer): ClientHttp2Session {
  const session = h2connect(url.replace('127.0.0.1', 'localhost'), { ca });
  session.on('error', () => {});
  t.teardown(() => session.destroy());
  return session;
}

export interface H2Answer {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** One request on `session`; rejects when the stream is reset. */
export function h2get(
  session: ClientHttp2Session,
  path: string,
  headers: Record<string, string> = {},
): Promise<H2Answer> {
  return new Promise((resolve, reject) => {
    const stream = session.request({ ':path': path, ...headers });
    const chunks: Buffer[] = [];
    let got: IncomingHttpHeaders = {};
    stream.on('response', (h) => {
      got = h;
    });
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () =>
      resolve({ status: Number(got[':status']), headers: got, body: Buffer.concat(chunks) }),
    );
    stream.on('error', reject);
    stream.on('close', () => {
      if (stream.rstCode) reject(new Error(`stream reset with code ${stream.rstCode}`));
    });
    stream.end();
  });
}
