import type { IncomingMessage } from 'node:http';
import { isIP, isIPv6 } from 'node:net';

/**
 * The key per-address limits count a request under: its IPv4 address, or the /64 prefix of an IPv6
 * one (one host commonly holds a whole /64, so counting single IPv6 addresses would bound nothing).
 * A request from one of `trustedProxies` counts under the client its `X-Forwarded-For` names: the
 * nearest hop that is not itself a trusted proxy. Anyone else's `X-Forwarded-For` is ignored (a
 * stranger could write any address there), and so is one that does not parse.
 */
export function clientAddressKey(req: IncomingMessage, trustedProxies: readonly string[] = []): string {
  const remote = plainAddress(req.socket.remoteAddress ?? 'unknown');
  return addressKey(trustedProxies.length > 0 ? forwardedClient(req, remote, trustedProxies) : remote);
}

function forwardedClient(req: IncomingMessage, remote: string, trustedProxies: readonly string[]): string {
  const trusted = new Set(trustedProxies.map(plainAddress));
  const header = req.headers['x-forwarded-for'];
  if (!trusted.has(remote) || typeof header !== 'string') return remote;
  const hops = header.split(',').map((h) => plainAddress(h.trim()));
  let client = remote;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (isIP(hops[i]!) === 0) break;
    client = hops[i]!;
    if (!trusted.has(client)) break;
  }
  return client;
}

/** An IPv4-mapped IPv6 address as plain IPv4. */
function plainAddress(addr: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1] ?? addr;
}

function addressKey(addr: string): string {
  return isIPv6(addr) ? `${expandIPv6(addr).slice(0, 4).join(':')}::/64` : addr;
}

/** The eight hextets of an IPv6 address (`::` expanded, zone dropped). */
function expandIPv6(addr: string): string[] {
  const [head = '', tail] = addr.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}
