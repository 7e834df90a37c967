import test from 'ava';
import {
  defaultPlaybackKey,
  mintToken,
  type PlaybackKey,
  parsePlaybackKeys,
  type TokenRefusal,
  verifyToken,
} from '../../common/playback-token.ts';

const old: PlaybackKey = { kid: 'k1', secret: 'old-secret-0123456789' };
const cur: PlaybackKey = { kid: 'k2', secret: 'new-secret-0123456789' };
const NOW = 1_800_000_000;

const good = mintToken([cur, old], { stream: 'show', expiresAt: NOW + 600 });
const byOld = mintToken([old], { stream: 'show', expiresAt: NOW + 600 });
const netV4 = mintToken([cur], { stream: 'show', expiresAt: NOW + 600, bind: { network: '203.0.113.0/24' } });
const netV6 = mintToken([cur], {
  stream: 'show',
  expiresAt: NOW + 600,
  bind: { network: '2001:db8:1::/48' },
});
const session = mintToken([cur], { stream: 'show', expiresAt: NOW + 600, bind: { session: 'abc' } });
const flip = (t: string, i: number) => t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1);
const [kid, exp, bind, mac] = good.split('.') as [string, string, string, string];

// [what, keys, token, stream, address, session, expected refusal or undefined]
const cases: [
  string,
  PlaybackKey[],
  string | undefined,
  string,
  string,
  string | undefined,
  TokenRefusal | undefined,
][] = [
  ['good', [cur, old], good, 'show', '198.51.100.7', undefined, undefined],
  ['good, only the current key listed', [cur], good, 'show', '198.51.100.7', undefined, undefined],
  ['previous key still listed', [cur, old], byOld, 'show', '198.51.100.7', undefined, undefined],
  ['previous key retired', [cur], byOld, 'show', '198.51.100.7', undefined, 'unknown_key'],
  ['none', [cur], undefined, 'show', '198.51.100.7', undefined, 'missing'],
  ['empty', [cur], '', 'show', '198.51.100.7', undefined, 'missing'],
  ['other stream', [cur], good, 'other', '198.51.100.7', undefined, 'forged'],
  ['mac changed', [cur], flip(good, good.length - 3), 'show', '198.51.100.7', undefined, 'forged'],
  [
    'expiry moved later',
    [cur],
    `${kid}.${Number(exp) + 1000}.${bind}.${mac}`,
    'show',
    '1.2.3.4',
    undefined,
    'forged',
  ],
  [
    'binding dropped',
    [cur],
    `${kid}.${exp}.-.${netV4.split('.')[3]}`,
    'show',
    '1.2.3.4',
    undefined,
    'forged',
  ],
  [
    'kid swapped',
    [cur, { kid: 'k9', secret: cur.secret }],
    `k9.${exp}.${bind}.${mac}`,
    'show',
    '1.2.3.4',
    undefined,
    'forged',
  ],
  ['three fields', [cur], `${kid}.${exp}.${mac}`, 'show', '1.2.3.4', undefined, 'malformed'],
  ['short mac', [cur], `${kid}.${exp}.${bind}.${mac.slice(1)}`, 'show', '1.2.3.4', undefined, 'malformed'],
  ['expiry not a number', [cur], `${kid}.1e9.${bind}.${mac}`, 'show', '1.2.3.4', undefined, 'malformed'],
  ['too long', [cur], `${good}${'a'.repeat(300)}`, 'show', '1.2.3.4', undefined, 'malformed'],
  ['path characters', [cur], `${kid}.${exp}.../...${mac}`, 'show', '1.2.3.4', undefined, 'malformed'],
  ['network, inside', [cur], netV4, 'show', '203.0.113.99', undefined, undefined],
  ['network, v4-mapped inside', [cur], netV4, 'show', '::ffff:203.0.113.99', undefined, undefined],
  ['network, outside', [cur], netV4, 'show', '203.0.114.1', undefined, 'wrong_network'],
  ['v6 network, inside', [cur], netV6, 'show', '2001:db8:1:ff::1', undefined, undefined],
  ['v6 network, outside', [cur], netV6, 'show', '2001:db8:2::1', undefined, 'wrong_network'],
  ['v6 network, v4 client', [cur], netV6, 'show', '203.0.113.99', undefined, 'wrong_network'],
  ['session, same', [cur], session, 'show', '1.2.3.4', 'abc', undefined],
  ['session, other', [cur], session, 'show', '1.2.3.4', 'abd', 'wrong_session'],
  ['session, none', [cur], session, 'show', '1.2.3.4', undefined, 'wrong_session'],
];

for (const [what, keys, token, stream, address, sess, want] of cases) {
  test(`token: ${what}`, (t) => {
    t.is(verifyToken(keys, token, { stream, now: NOW, address, session: sess }), want);
  });
}

test('token: refused at its expiry second, not before', (t) => {
  const ctx = { stream: 'show', address: '1.2.3.4' };
  t.is(verifyToken([cur], good, { ...ctx, now: NOW + 599 }), undefined);
  t.is(verifyToken([cur], good, { ...ctx, now: NOW + 600 }), 'expired');
});

test('token: every character is safe in a path segment and a query value', (t) => {
  for (const token of [good, netV4, netV6, session]) t.regex(token, /^[A-Za-z0-9_.-]+$/);
});

test('keys: kid=secret items, first signs; problems name the item, never the secret', (t) => {
  t.deepEqual(parsePlaybackKeys(['k2=new-secret-0123456789', 'k1=old-secret-0123456789']).keys, [cur, old]);
  const { problems } = parsePlaybackKeys([
    'K2=x-secret-0123456789',
    'k3=short',
    'k4',
    'k1=aaaaaaaaaaaaaaaaaa',
    'k1=bbbbbbbbbbbbbbbbbb',
  ]);
  t.is(problems.length, 4);
  t.false(problems.join(' ').includes('short'));
  t.false(problems.join(' ').includes('bbbb'));
});

test('keys: the default key follows the cluster secret', (t) => {
  const a = defaultPlaybackKey('secret-a');
  t.is(a.kid, 'k0');
  t.deepEqual(defaultPlaybackKey('secret-a'), a);
  t.not(defaultPlaybackKey('secret-b').secret, a.secret);
  t.not(a.secret, 'secret-a');
});

test('mint: refuses bindings it could not check later', (t) => {
  t.throws(() => mintToken([cur], { stream: 's', expiresAt: NOW, bind: { network: '1.2.3.4' } }));
  t.throws(() => mintToken([cur], { stream: 's', expiresAt: NOW, bind: { network: '1.2.3.0/33' } }));
  t.throws(() => mintToken([cur], { stream: 's', expiresAt: NOW, bind: { session: '' } }));
  t.throws(() => mintToken([], { stream: 's', expiresAt: NOW }));
});
