/** A raw RTMP client for hostile ingest tests, and a child-process origin to aim it at. */
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PartProcess, spawnPart, stopPart } from '../../cli/part-process.ts';
import { amf, FuzzRandom, validConnect } from '../../harness/rtmp-fuzz-cases.ts';
import { chunk, handshake } from '../../harness/rtmp-fuzz-chunks.ts';
import { getText, sumMetric, waitFor } from '../../harness/wait.ts';

/** An origin as a child process (an uncaught exception ends it, which the tests see), RTMP source. */
export interface ChildOrigin {
  proc: PartProcess;
  url: string;
  rtmpUrl: string;
  rtmpPort: number;
  key: string;
  metric: (name: string, labels?: Record<string, string>) => Promise<number>;
  alive: () => boolean;
  stop: () => Promise<void>;
}

/** Starts `ringcast origin --source rtmp` with a 160x90 ladder and its own key. */
export async function startChildOrigin(): Promise<ChildOrigin> {
  const dir = mkdtempSync(join(tmpdir(), 'ringcast-rtmp-'));
  const key = `key${process.pid}x${Date.now()}`;
  const args = ['--port', '0', '--rtmp-port', '0', '--source', 'rtmp', '--stream-key', key];
  const proc = await spawnPart({
    part: 'origin',
    args: [...args, '--ladder', '90p:160x90:150k:48k', '--fps', '15', '--data-dir', join(dir, 'origin')],
    env: { RINGCAST_LOG_LEVEL: 'info' },
    logFile: join(dir, 'origin.log'),
  });
  const rtmpUrl = proc.rtmpUrl!;
  return {
    proc,
    url: proc.url,
    rtmpUrl,
    rtmpPort: Number(new URL(rtmpUrl.replace('rtmp:', 'http:')).port),
    key,
    metric: async (name, labels) => sumMetric(await getText(`${proc.url}/metrics`), name, labels),
    alive: () => proc.child.exitCode === null && proc.child.signalCode === null,
    stop: async () => {
      await stopPart(proc, 3000);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** One raw RTMP connection: what it sent, what came back, and when it closed. */
export class RawRtmp {
  private readonly sock: Socket;
  private readonly chunks: Buffer[] = [];
  /** Resolves when the server closed or reset the connection. */
  readonly closed: Promise<void>;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.on('data', (d) => this.chunks.push(d));
    this.closed = new Promise((resolve) => {
      sock.on('error', () => resolve());
      sock.on('close', () => resolve());
    });
  }

  /** Connects (from `localAddress`, any 127.x.y.z works on Linux) and sends the handshake. */
  static async open(port: number, localAddress?: string): Promise<RawRtmp> {
    const sock = connect({ port, host: '127.0.0.1', localAddress });
    await new Promise<void>((resolve, reject) => {
      sock.once('connect', resolve);
      sock.once('error', reject);
    });
    const c = new RawRtmp(sock);
    c.send(handshake(new FuzzRandom(7)));
    return c;
  }

  send(bytes: Buffer): void {
    if (!this.sock.destroyed) this.sock.write(bytes);
  }

  /** What the server sent so far, as latin1 (AMF strings are readable in it). */
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }

  /** Waits until the server's answer contains `s` (or the connection closed). */
  async waitForText(s: string, timeoutMs = 5000): Promise<boolean> {
    let closed = false;
    void this.closed.then(() => {
      closed = true;
    });
    await waitFor(() => this.text().includes(s) || closed, { timeoutMs, intervalMs: 20, what: s });
    return this.text().includes(s);
  }

  destroy(): void {
    this.sock.destroy();
  }
}

/** An AMF0 command message as a chunked RTMP message on csid 3. */
export function command(name: string, args: Buffer[], streamId = 0): Buffer {
  return chunk({ type: 20, payload: Buffer.concat([amf.string(name), ...args]), streamId });
}

/** connect, createStream and publish `key` as ffmpeg sends them. */
export function publishSequence(key: string): Buffer {
  return Buffer.concat([
    chunk({ type: 20, payload: validConnect() }),
    command('createStream', [amf.number(2), amf.null()]),
    command('publish', [amf.number(3), amf.null(), amf.string(key), amf.string('live')], 1),
  ]);
}
