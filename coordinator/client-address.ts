import type { IncomingMessage } from 'node:http';
import { isIPv6 } from 'node:net';

/**
 * The key per-address limits count a request under: its IPv4 address, or the /64 prefix of an IPv6
 * one (one host commonly holds a whole /64, so counting single IPv6 addresses would bound nothing).
 * Behind a reverse proxy every client shares the proxy's address; the limits then bound the proxy.
 */
export function clientAddressKey(req: IncomingMessage): string {
  const raw = req.socket.remoteAddress ?? 'unknown';
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(raw);
  if (v4) return v4[1]!;
  if (!isIPv6(raw)) return raw;
  return `${expandIPv6(raw).slice(0, 4).join(':')}::/64`;
}

/** The eight hextets of an IPv6 address (`::` expanded, zone dropped). */
function expandIPv6(addr: string): string[] {
  const [head = '', tail] = addr.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}
