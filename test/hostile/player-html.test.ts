/**
 * Values from a server reaching the player page and the dashboard (relay and cache headers, relay URLs):
 * they must be shown as text, never parsed as HTML.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import test from 'ava';
import { closeServer, listen } from '../../common/http.ts';
import { launchChromium } from '../../harness/browser.ts';
import { waitFor } from '../../harness/wait.ts';
import { call, putStream, registerRelay, segmentBody, startCoordinator } from '../coordinator/helpers.ts';

const CHROMIUM = process.env.RINGCAST_CHROMIUM ?? '/usr/bin/chromium';
/** Sinks that parse a string as HTML (or script). */
const HTML_SINKS =
  /\b(innerHTML|outerHTML|insertAdjacentHTML|document\.write(ln)?|srcdoc|createContextualFragment)\b/;

test('no page script parses a string as HTML (innerHTML, outerHTML, insertAdjacentHTML, document.write, ...)', (t) => {
  const root = new URL('../../', import.meta.url);
  const files = [
    ...readdirSync(new URL('player-demo/', root))
      .filter((f) => /\.(js|html)$/.test(f))
      .map((f) => `player-demo/${f}`),
    'coordinator/dashboard.html',
  ];
  t.true(files.includes('player-demo/player.js'));
  const uses: string[] = [];
  for (const file of files) {
    readFileSync(new URL(file, root), 'utf8')
      .split('\n')
      .forEach((line, i) => {
        if (HTML_SINKS.test(line)) uses.push(`${file}:${i + 1}: ${line.trim()}`);
      });
  }
  t.deepEqual(uses, [], 'build elements and set textContent instead');
});

const HOSTILE_RELAY = '<img src=x onerror="window.__pwned=1">';
const HOSTILE_CACHE = '<b class=pwn>HIT</b>';
const MEDIA_PLAYLIST =
  '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n0.ts\n#EXTINF:2.0,\n1.ts\n#EXT-X-ENDLIST\n';

(existsSync(CHROMIUM) ? test : test.skip)(
  'markup in relay headers and relay URLs shows as text on the player page and the dashboard',
  async (t) => {
    const c = await startCoordinator({ relayTimeoutMs: 600_000 });
    t.teardown(() => c.close());
    // A stand-in relay whose answers carry markup in the headers the player shows.
    const relay = createServer((req, res) => {
      const cors = {
        'access-control-allow-origin': '*',
        'access-control-expose-headers': 'x-ringcast-relay, x-ringcast-cache',
        'x-ringcast-relay': HOSTILE_RELAY,
        'x-ringcast-cache': HOSTILE_CACHE,
      };
      if (req.url?.endsWith('.m3u8'))
        res.writeHead(200, { ...cors, 'content-type': 'application/vnd.apple.mpegurl' }).end(MEDIA_PLAYLIST);
      else res.writeHead(200, { ...cors, 'content-type': 'video/mp2t' }).end(Buffer.alloc(188 * 20, 0x47));
    });
    const relayUrl = await listen(relay, 0);
    t.teardown(() => closeServer(relay));
    t.is((await registerRelay(c.url, 'r1', relayUrl)).status, 200);
    // A relay URL with markup in its path (registration allows it: no quotes, no spaces), kept out of
    // viewers' way by draining it; the dashboard lists it.
    t.is(
      (await registerRelay(c.url, 'r9', 'http://127.0.0.1:1/<img/src=x/onerror=window.__pwned=2>')).status,
      200,
    );
    t.is((await call(`${c.url}/api/v1/relays/r9/drain`, { method: 'POST' })).status, 200);
    t.is((await putStream(c.url, 'demo')).status, 200);
    for (const rendition of ['720p', '360p'])
      await call(`${c.url}/api/v1/streams/demo/segments`, { body: { ...segmentBody('demo', 1), rendition } });

    const browser = await launchChromium();
    t.teardown(() => browser.close());
    const page = await browser.context.newPage();
    await page.goto(`${c.url}/player/?stream=demo`);
    await waitFor(() => page.evaluate(() => document.querySelectorAll('#segments tr').length > 0), {
      timeoutMs: 20_000,
      what: 'a segment row on the player page',
    });
    const player = await page.evaluate(() => ({
      elements: document.querySelectorAll('#segments img, #segments b').length,
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      cells: [...document.querySelectorAll('#segments tr:first-child td')].map((td) => td.textContent),
    }));
    t.is(player.elements, 0, 'no element made from a header');
    t.is(player.pwned, undefined);
    t.is(player.cells[2], HOSTILE_RELAY);
    t.is(player.cells[3], HOSTILE_CACHE);

    await page.goto(`${c.url}/`);
    await waitFor(() => page.evaluate(() => document.querySelector('#relays')?.textContent?.includes('r9')), {
      timeoutMs: 10_000,
      what: 'the dashboard lists r9',
    });
    const dashboard = await page.evaluate(() => ({
      images: document.querySelectorAll('img').length,
      pwned: (window as unknown as { __pwned?: number }).__pwned,
      text: document.querySelector('#relays')?.textContent ?? '',
    }));
    t.is(dashboard.images, 0);
    t.is(dashboard.pwned, undefined);
    t.true(dashboard.text.includes('<img/src=x/onerror=window.__pwned=2>'));
  },
);
