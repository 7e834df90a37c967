import type { Server as HttpServer } from 'node:http';
import type { Server as TlsServer } from 'node:tls';
import { listen } from './http.ts';

/**
 * Listens on a TLS server (https, or HTTP/2 with HTTP/1.1) and resolves with `https://host:port`.
 * `listen` uses only what every net server has (listen, address, error events).
 */
export async function listenHttps(server: TlsServer, port: number, host: string): Promise<string> {
  const bound = await listen(server as unknown as HttpServer, port, host);
  return bound.replace(/^http:/, 'https:');
}
