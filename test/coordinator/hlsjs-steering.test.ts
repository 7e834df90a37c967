import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { chromium } from 'playwright-core';
import { closeServer, listen } from '../../common/http.ts';
import { putStream, registerRelay, startCoordinator } from './helpers.ts';

const CHROMIUM = '/usr/bin/chromium';
const MEDIA_PLAYLIST =
  '#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\n0.m4s\n#EXT-X-ENDLIST\n';

// One real client check: hls.js reads our master, loads /steer and builds a pathway per relay.
(existsSync(CHROMIUM) ? test : test.skip)(
  'hls.js follows the coordinator: steering loaded, a pathway per relay',
  async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'ringcast-hlsjs-'));
    t.teardown(() => rmSync(dir, { recursive: true, force: true }));
    writeFileSync(join(dir, 'probe.html'), '<!doctype html><script src="hls.min.js"></script>');
    const c = await startCoordinator({ playerDir: dir, relayTimeoutMs: 60_000 });
    t.teardown(() => c.close());
    // Stand-in relays answer every media playlist with a short VOD one, so no pathway is penalised
    // for errors while the probe reads the levels; without a media element no segment is fetched.
    const ports: number[] = [];
    for (let i = 1; i <= 3; i++) {
      const server = createServer((_req, res) => {
        res.writeHead(200, {
          'content-type': 'application/vnd.apple.mpegurl',
          'access-control-allow-origin': '*',
        });
        res.end(MEDIA_PLAYLIST);
      });
      const url = await listen(server, 0);
      t.teardown(() => closeServer(server));
      ports.push(Number(new URL(url).port));
      await registerRelay(c.url, `r${i}`, url);
    }
    await putStream(c.url, 'demo');

    const context = await chromium.launchPersistentContext(join(dir, 'profile'), {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'],
    });
    t.teardown(() => context.close());
    const page = await context.newPage();
    await page.goto(`${c.url}/player/probe.html`);
    const result = await page.evaluate(
      (masterUrl) =>
        new Promise<{ url: string; priority: string[]; levels: Array<{ pathway: string; uri: string }> }>(
          (resolve, reject) => {
            // biome-ignore lint/suspicious/noExplicitAny: hls.js is a page global here
            const Hls = (globalThis as any).Hls;
            const hls = new Hls({ autoStartLoad: false });
            setTimeout(() => reject(new Error('no steering manifest within 10 s')), 10_000);
            hls.on(
              Hls.Events.STEERING_MANIFEST_LOADED,
              (_e: unknown, data: { url: string; steeringManifest: never }) => {
                // Clones are added right after this event; then each pathway is put first in turn and its levels read.
                setTimeout(() => {
                  const pathways: string[] = hls.pathways;
                  const levels: Array<{ pathway: string; uri: string }> = [];
                  for (const p of pathways) {
                    hls.pathwayPriority = [p, ...pathways.filter((x) => x !== p)];
                    for (const l of hls.levels) levels.push({ pathway: l.pathwayId, uri: l.uri });
                  }
                  resolve({ url: data.url, priority: data.steeringManifest['PATHWAY-PRIORITY'], levels });
                });
              },
            );
            // Steering starts with loading; no media element is needed for the playlists.
            hls.on(Hls.Events.MANIFEST_PARSED, () => hls.startLoad());
            hls.loadSource(masterUrl);
          },
        ),
      `${c.url}/live/demo/master.m3u8?session=browser1`,
    );
    t.regex(result.url, /\/steer\/demo\?session=browser1&_HLS_pathway=r[123]&_HLS_throughput=\d+/);
    t.deepEqual([...result.priority].sort(), ['r1', 'r2', 'r3']);
    const byPathway = new Map<string, string[]>();
    for (const l of result.levels) byPathway.set(l.pathway, [...(byPathway.get(l.pathway) ?? []), l.uri]);
    t.deepEqual([...byPathway.keys()].sort(), ['r1', 'r2', 'r3']);
    for (const [pathway, uris] of byPathway) {
      const port = ports[Number(pathway.slice(1)) - 1];
      t.deepEqual(uris.sort(), [
        `http://127.0.0.1:${port}/live/demo/360p/index.m3u8`,
        `http://127.0.0.1:${port}/live/demo/720p/index.m3u8`,
      ]);
    }
  },
);
