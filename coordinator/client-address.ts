import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';
import { addressKey, canonicalAddress, plainAddress } from '../common/address-key.ts';

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
  // Compared in one spelling: a proxy configured as `0:0:0:0:0:0:0:1` is the socket's `::1`.
  const trusted = new Set(trustedProxies.map(canonicalAddress));
  const header = req.headers['x-forwarded-for'];
  if (!trusted.has(canonicalAddress(remote)) || typeof header !== 'string') return remote;
  const hops = header.split(',').map((h) => plainAddress(h.trim()));
  let client = remote;
  for (let i = hops.length - 1; i >= 0; i--) {
    if (isIP(hops[i]!) === 0) break;
    client = hops[i]!;
    if (!trusted.has(canonicalAddress(client))) break;
  }
  return client;
}
