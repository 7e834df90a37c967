import { isIPv6 } from 'node:net';

// One rule for every per-address limit (the coordinator's event streams and sessions, the origin's
// RTMP back-off and connection caps): an address must not escape its limit by being written another way.

/** An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as plain IPv4; any other address as it is. */
export function plainAddress(addr: string): string {
  return /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1] ?? addr;
}

/**
 * The key a per-address limit counts `addr` under: its IPv4 address, or the /64 prefix of an IPv6 one
 * (one host commonly holds a whole /64, so counting single IPv6 addresses would bound nothing).
 */
export function addressKey(addr: string): string {
  const plain = plainAddress(addr);
  return isIPv6(plain) ? `${expandIPv6(plain).slice(0, 4).join(':')}::/64` : plain;
}

/**
 * One spelling per address, for comparing addresses an operator wrote with those a socket reports
 * (`0:0:0:0:0:0:0:1` and `::1`, `2001:DB8::a` and `2001:db8::a`).
 */
export function canonicalAddress(addr: string): string {
  const plain = plainAddress(addr);
  return isIPv6(plain) ? expandIPv6(plain).join(':') : plain;
}

/** The eight hextets of an IPv6 address (`::` expanded, zone dropped). */
function expandIPv6(addr: string): string[] {
  const [head = '', tail] = addr.split('%')[0]!.split('::');
  const left = head ? head.split(':') : [];
  const right = tail ? tail.split(':') : [];
  const fill = tail === undefined ? [] : Array(8 - left.length - right.length).fill('0');
  return [...left, ...fill, ...right].map((h) => h.toLowerCase().replace(/^0+(?=.)/, ''));
}
