/**
 * A TCP proxy that can make one process's links hang (the relay drills: a link to the origin that stops
 * answering without closing), and how it tells which process owns a connection.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** Is the TCP connection whose far end is 127.0.0.1:`peerPort` owned by process `pid`? (Linux /proc.) */
export function connectionOwnedBy(pid: number, peerPort: number, localPort: number): boolean {
  const hex = (p: number) => p.toString(16).toUpperCase().padStart(4, '0');
  let inode = '';
  for (const line of readFileSync('/proc/net/tcp', 'utf8').split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f[1]?.endsWith(`:${hex(peerPort)}`) && f[2]?.endsWith(`:${hex(localPort)}`)) inode = f[9] ?? '';
  }
  if (!inode) return false;
  try {
    return readdirSync(`/proc/${pid}/fd`).some((fd) => {
      try {
        return readlinkSync(`/proc/${pid}/fd/${fd}`) === `socket:[${inode}]`;
      } catch {
        return false;
      }
    });
  } catch {
    return false;
  }
}

/**
 * A TCP proxy in front of the origin. `cut(pid)` makes it stop forwarding, in both directions, on every
 * connection that process `pid` has or opens: sockets stay open and silent (a hang, not a refusal).
 */
export class HangingProxy {
  private server: Server | undefined;
  private target = 0;
  private cutPid = 0;
  private readonly sockets = new Set<Socket>();
  port = 0;

  async start(): Promise<string> {
    this.server = createServer((client) => this.accept(client));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server.address() as { port: number }).port;
    return `http://127.0.0.1:${this.port}`;
  }

  setTarget(port: number): void {
    this.target = port;
  }

  cut(pid: number): void {
    this.cutPid = pid;
  }

  heal(): void {
    this.cutPid = 0;
  }

  private accept(client: Socket): void {
    let classifiedFor = 0;
    let victim = false;
    const isCut = () => {
      const pid = this.cutPid;
      if (!pid) return false;
      if (classifiedFor !== pid) {
        victim = connectionOwnedBy(pid, client.remotePort!, this.port);
        classifiedFor = pid;
      }
      return victim;
    };
    const upstream = createConnection({ host: '127.0.0.1', port: this.target });
    this.sockets.add(client).add(upstream);
    client.on('data', (d) => {
      if (!isCut()) upstream.write(d);
    });
    upstream.on('data', (d) => {
      if (!isCut()) client.write(d);
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  }

  async close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
