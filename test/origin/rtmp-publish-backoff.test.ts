import test from 'ava';
import { addressOf, PublishBackoff } from '../../origin/publish-backoff.ts';

// The per-address limit on refused publish attempts, on a fake clock.
const clock = () => {
  let now = 1_000_000;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

test('5 refusals lock an address out for 2 s; each refusal after a lockout doubles it, up to the cap', (t) => {
  const c = clock();
  const b = new PublishBackoff({ maxLockoutMs: 10_000 }, c.now);
  for (let i = 0; i < 4; i++) t.is(b.refused('10.0.0.1'), 0);
  t.is(b.refused('10.0.0.1'), 2_000);
  t.is(b.lockedFor('10.0.0.1'), 2_000);
  t.is(b.lockedFor('10.0.0.2'), 0, 'another address is free');
  c.advance(2_000);
  t.is(b.lockedFor('10.0.0.1'), 0);
  t.is(b.refused('10.0.0.1'), 4_000);
  c.advance(4_000);
  t.is(b.refused('10.0.0.1'), 8_000);
  c.advance(8_000);
  t.is(b.refused('10.0.0.1'), 10_000, 'capped');
});

test('a quiet minute forgives; an accepted publish clears the address', (t) => {
  const c = clock();
  const b = new PublishBackoff({}, c.now);
  for (let i = 0; i < 4; i++) b.refused('a');
  c.advance(60_001);
  t.is(b.refused('a'), 0, 'four refusals a minute ago no longer count');
  for (let i = 0; i < 4; i++) b.refused('a');
  t.true(b.lockedFor('a') > 0);
  c.advance(2_000 + 60_001);
  t.is(b.refused('a'), 0, 'a quiet minute after the lockout ended starts again');
  b.refused('b');
  b.accepted('b');
  t.is(b.size, 1);
});

test('many addresses cannot grow the map past its bound; the least recently refused go first', (t) => {
  const b = new PublishBackoff({ maxAddresses: 100 });
  for (let i = 0; i < 10_000; i++) b.refused(`10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`);
  t.is(b.size, 100);
  for (let i = 0; i < 5; i++) b.refused('10.0.39.15'); // the last address refused: still there
  t.true(b.lockedFor('10.0.39.15') > 0);
});

test('addressOf drops the port; an IPv4-mapped peer counts as its IPv4 address', (t) => {
  t.is(addressOf('127.0.0.1:51234'), '127.0.0.1');
  t.is(addressOf('::ffff:10.1.2.3:1935'), '10.1.2.3');
});

// An IPv6 host holds a whole /64: counted per address, it could step round the lockout for ever.
test('IPv6 peers count per /64, however the address is written', (t) => {
  const key = addressOf('2001:db8:0:7::1:40000');
  t.is(addressOf('2001:db8:0:7:ffff:1:2:3:40001'), key);
  t.is(addressOf('2001:0DB8:0000:0007::9:1935'), key);
  t.not(addressOf('2001:db8:0:8::1:40000'), key);
  const b = new PublishBackoff();
  for (let i = 1; i <= 5; i++) b.refused(addressOf(`2001:db8:0:7::${i.toString(16)}:5000`));
  t.true(
    b.lockedFor(addressOf('2001:db8:0:7::abcd:6000')) > 0,
    'a new address of that /64 is locked out too',
  );
});
