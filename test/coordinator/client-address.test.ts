import type { IncomingMessage } from 'node:http';
import test from 'ava';
import { loadConfig } from '../../common/config.ts';
import { clientAddressKey } from '../../coordinator/client-address.ts';
import { COORDINATOR_CONFIG } from '../../coordinator/config.ts';

const req = (remoteAddress: string, forwardedFor?: string) =>
  ({
    socket: { remoteAddress },
    headers: forwardedFor === undefined ? {} : { 'x-forwarded-for': forwardedFor },
  }) as unknown as IncomingMessage;

test('IPv4 counts per address, IPv4-mapped IPv6 as IPv4, IPv6 per /64', (t) => {
  t.is(clientAddressKey(req('203.0.113.7')), '203.0.113.7');
  t.is(clientAddressKey(req('::ffff:203.0.113.7')), '203.0.113.7');
  t.is(clientAddressKey(req('2001:db8:1:2:aaaa::1')), '2001:db8:1:2::/64');
  t.is(clientAddressKey(req('2001:db8:1:2:bbbb:cccc:dddd:eeee')), '2001:db8:1:2::/64');
  t.is(clientAddressKey(req('2001:0db8:0:0::5')), '2001:db8:0:0::/64');
  t.is(clientAddressKey(req('::1')), '0:0:0:0::/64');
});

test('X-Forwarded-For counts only from a trusted proxy, and only a well-formed nearest hop', (t) => {
  const proxies = ['10.0.0.1', '10.0.0.2'];
  // A stranger writing the header gains nothing.
  t.is(clientAddressKey(req('198.51.100.9', '1.2.3.4'), proxies), '198.51.100.9');
  t.is(clientAddressKey(req('198.51.100.9', '1.2.3.4')), '198.51.100.9');
  // Through a trusted proxy: the nearest hop that is not a proxy; what the client itself wrote further
  // left is not believed.
  t.is(clientAddressKey(req('10.0.0.1', '203.0.113.7'), proxies), '203.0.113.7');
  t.is(
    clientAddressKey(req('::ffff:10.0.0.1', 'spoofed, 9.9.9.9, 203.0.113.7, 10.0.0.2'), proxies),
    '203.0.113.7',
  );
  t.is(clientAddressKey(req('10.0.0.1', '2001:db8:5:6::9'), proxies), '2001:db8:5:6::/64');
  // Garbage nearest the proxy: counted as the proxy, the cautious choice.
  t.is(clientAddressKey(req('10.0.0.1', '203.0.113.7, <script>'), proxies), '10.0.0.1');
  t.is(clientAddressKey(req('10.0.0.1'), proxies), '10.0.0.1');
});

// Before, compared as strings: a proxy written in another spelling than the socket's was never trusted,
// so every viewer behind it counted as the proxy's one address.
test('a trusted proxy is recognised however its address is written', (t) => {
  t.is(clientAddressKey(req('::1', '203.0.113.7'), ['0:0:0:0:0:0:0:1']), '203.0.113.7');
  t.is(clientAddressKey(req('2001:db8::10', '203.0.113.7'), ['2001:DB8:0::10']), '203.0.113.7');
  t.is(
    clientAddressKey(req('2001:db8::10', '203.0.113.7, 2001:db8:0:0:0:0:0:11'), [
      '2001:db8::10',
      '2001:db8::11',
    ]),
    '203.0.113.7',
  );
});

test('trustedProxies must be IP addresses', (t) => {
  const ok = loadConfig(
    COORDINATOR_CONFIG,
    ['--trusted-proxies', '10.0.0.1, ::1'],
    {},
    { clusterSecret: 'x'.repeat(8) },
  );
  t.deepEqual(ok.trustedProxies, ['10.0.0.1', '::1']);
  const err = t.throws(() =>
    loadConfig(
      COORDINATOR_CONFIG,
      ['--trusted-proxies', 'proxy.local'],
      {},
      { clusterSecret: 'x'.repeat(8) },
    ),
  );
  t.regex(err.message, /trustedProxies.*IP addresses/);
});
