import { type ChildProcess, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';
import { freePort, nginxConf } from './nginx.ts';

export interface NginxTlsOptions {
  /** nginx's own folder (config, pid, logs). */
  dir: string;
  /** What it serves. */
  root: string;
  /** The core its one worker is pinned to. */
  core: number;
  certFile: string;
  keyFile: string;
}

/** Debian's nginx over TLS: HTTPS/1.1 on `h1Url` (ALPN http/1.1 only), HTTPS with HTTP/2 on `h2Url`. */
export interface NginxTls {
  h1Url: string;
  h2Url: string;
  /** The master process (the worker is its only child). */
  pid: number;
  stop(): Promise<void>;
}

/** Starts nginx with nginxConf's TLS form and resolves once both ports accept connections. */
export async function startNginxTls(o: NginxTlsOptions): Promise<NginxTls> {
  const ports = { h1: await freePort(), h2: await freePort() };
  await mkdir(join(o.dir, 'logs'), { recursive: true });
  const conf = join(o.dir, 'nginx.conf');
  await writeFile(conf, nginxConf(o.dir, o.root, ports.h1, { ...o, h2Port: ports.h2 }));
  const child: ChildProcess = spawn('taskset', ['-c', String(o.core), 'nginx', '-c', conf, '-p', o.dir], {
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  // SIGTERM: nginx's fast shutdown (the master ends its worker). Past 5 s both are killed: a worker
  // whose master was killed alone would go on serving.
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const worker = childrenOf(child.pid!);
    child.kill('SIGTERM');
    const timer = setTimeout(() => {
      for (const pid of worker) killQuietly(pid);
      child.kill('SIGKILL');
    }, 5000);
    await exited;
    clearTimeout(timer);
  };
  try {
    await Promise.all([acceptsConnections(ports.h1), acceptsConnections(ports.h2)]);
  } catch (err) {
    await stop();
    throw err;
  }
  const at = (port: number) => `https://127.0.0.1:${port}`;
  return { h1Url: at(ports.h1), h2Url: at(ports.h2), pid: child.pid!, stop };
}

/** The first child of `pid` (nginx's worker under its master), from /proc. */
export function firstChild(pid: number): number {
  const child = childrenOf(pid)[0];
  if (child === undefined) throw new Error(`process ${pid} has no child`);
  return child;
}

function childrenOf(pid: number): number[] {
  try {
    const list = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim();
    return list === '' ? [] : list.split(/\s+/).map(Number);
  } catch {
    return [];
  }
}

function killQuietly(pid: number): void {
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** Resolves once a TCP connection to `port` is accepted; tries for at most 5 s, 50 ms apart. */
async function acceptsConnections(port: number): Promise<void> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const ok = await new Promise<boolean>((done) => {
      const socket = connect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.destroy();
        done(true);
      });
      socket.once('error', () => done(false));
    });
    if (ok) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on port ${port} within 5 s`);
}
