import type { Server, Socket } from 'node:net';

/** Listens on `port` (0 = the OS picks) at `host`; resolves with the bound port. */
export function listenTcp(server: Server, port: number, host: string): Promise<number> {
  return new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(boundPort(server));
    });
  });
}

/** The port `server` is bound to; 0 when it is not listening. */
export function boundPort(server: Server | undefined): number {
  const addr = server?.address();
  return addr && typeof addr === 'object' ? addr.port : 0;
}

/** Stops `server` listening and destroys `sockets` (its connections); resolves once it is closed. */
export async function closeTcp(server: Server, sockets: Iterable<Socket>): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  for (const socket of sockets) socket.destroy();
  await closed;
}
