import test from 'ava';
import { advertisedUrl, publicBaseUrl } from '../../coordinator/public-url.ts';

const advertised: [string, string][] = [
  ['http://127.0.0.1:8080', 'http://127.0.0.1:8080'],
  ['http://0.0.0.0:8080', 'http://127.0.0.1:8080'],
  ['http://[::]:8080', 'http://127.0.0.1:8080'],
  ['http://[::1]:8080', 'http://[::1]:8080'],
  ['http://10.0.0.5:80', 'http://10.0.0.5:80'],
];

for (const [bound, url] of advertised) {
  test(`advertisedUrl ${bound}`, (t) => {
    t.is(advertisedUrl(bound), url);
  });
}

const BOUND = 'http://127.0.0.1:8080';
const bases: [string, string, string | undefined, string][] = [
  ['configured wins', 'https://watch.example.com', 'other:1', 'https://watch.example.com'],
  ['Host with a port', '', 'coord.local:8080', 'http://coord.local:8080'],
  ['Host without a port', '', 'coord.local', 'http://coord.local'],
  ['IPv6 Host', '', '[2001:db8::1]:8080', 'http://[2001:db8::1]:8080'],
  ['no Host', '', undefined, BOUND],
  ['Host with a path', '', 'evil.example/x', BOUND],
  ['Host with a user', '', 'user@evil.example', BOUND],
  ['Host with a quote', '', 'a"b', BOUND],
  ['empty Host', '', '', BOUND],
];

for (const [name, configured, host, url] of bases) {
  test(`publicBaseUrl: ${name}`, (t) => {
    t.is(publicBaseUrl(configured, host, BOUND), url);
  });
}
