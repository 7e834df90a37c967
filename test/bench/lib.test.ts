import test from 'ava';
import { nginxConf } from '../../bench/lib/nginx.ts';
import { chartSvg } from '../../bench/lib/plot.ts';

test("nginxConf: the reference server's port, root, state and cache headers", (t) => {
  const conf = nginxConf('/tmp/n', '/srv/live', 8099);
  for (const want of [
    'listen 127.0.0.1:8099;',
    'root /srv/live;',
    'pid /tmp/n/nginx.pid;',
    'error_log /tmp/n/logs/error.log warn;',
    'location ~ \\.m3u8$ { add_header Cache-Control "max-age=1"; }',
    'add_header Cache-Control "public, max-age=31536000, immutable";',
    'daemon off;',
  ])
    t.true(conf.includes(want), want);
});

test('chartSvg: one line, its points and a legend entry per series; axes from 0', (t) => {
  const svg = chartSvg({
    title: 'T',
    xLabel: 'viewers',
    yLabel: 'Mbit/s',
    series: [
      {
        name: 'a',
        color: '#f00',
        points: [
          [0, 0],
          [100, 10],
        ],
      },
      { name: 'b', color: '#00f', points: [[50, 5]] },
    ],
  });
  t.is(svg.match(/<path /g)?.length, 2);
  t.is(svg.match(/<circle /g)?.length, 3);
  t.true(svg.includes('>a</text>') && svg.includes('>b</text>'));
  // x runs 0..100 over 70..780 px; y 0..11 (10% headroom) over 400..40 px.
  t.true(svg.includes('<path d="M70,400 L780,72.72727272727275"'), svg.slice(0, 2000));
  t.true(svg.includes('>100</text>') && svg.includes('>11.0</text>'));
});
