import { readFileSync } from 'node:fs';
import test from 'ava';
import { RELAY_CONFIG } from '../../relay/config.ts';
import { clusterWith, metrics, startRelay } from './helpers.ts';

const doc = readFileSync(new URL('../../docs/relay.md', import.meta.url), 'utf8');

test('docs/relay.md lists every config key with its default', (t) => {
  for (const [key, spec] of Object.entries(RELAY_CONFIG)) {
    const row = doc.split('\n').find((l) => l.startsWith(`| \`${key}\` |`));
    t.truthy(row, `${key} is documented`);
    const text = Array.isArray(spec.default) ? spec.default.join(',') : spec.default;
    const shown = typeof text === 'string' ? `\`'${text}'\`` : `\`${text}\``;
    t.true(
      row?.includes(shown) || row?.includes(`\`${spec.default}\``),
      `${key} default ${shown} in: ${row}`,
    );
  }
});

test('docs/relay.md lists every ringcast_relay_ metric the relay exports', async (t) => {
  const { relay, url } = await startRelay(clusterWith('http://127.0.0.1:9'));
  t.teardown(() => relay.close());
  const names = new Set(
    [...(await metrics(url)).matchAll(/^# TYPE (ringcast_relay_\w+) /gm)].map((m) => m[1]!),
  );
  const own = [...names].filter((n) => !/_(process|nodejs)_/.test(n));
  t.true(own.length >= 9);
  for (const name of own) t.true(doc.includes(`\`${name}\``), `${name} is documented`);
});
