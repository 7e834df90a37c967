import { readFileSync } from 'node:fs';
import test from 'ava';
import { COORDINATOR_CONFIG } from '../../coordinator/config.ts';
import { CoordinatorMetrics } from '../../coordinator/coordinator-metrics.ts';

const doc = readFileSync(new URL('../../docs/coordinator.md', import.meta.url), 'utf8');

test('docs/coordinator.md lists every config key once, with its default', (t) => {
  const rows = new Map<string, string>();
  for (const m of doc.matchAll(/^\| `([a-zA-Z]+)` \| ([^|]+) \|/gm)) rows.set(m[1]!, m[2]!.trim());
  for (const [key, def] of Object.entries(COORDINATOR_CONFIG)) {
    t.true(rows.has(key), `${key} is documented`);
    if (key === 'clusterSecret' || key === 'playerDir') continue;
    const empty = def.default === '' || (Array.isArray(def.default) && def.default.length === 0);
    const shown = empty ? "`''`" : `\`${def.default}\``;
    t.is(rows.get(key), shown, key);
  }
});

test('docs/coordinator.md lists every coordinator metric', (t) => {
  const metrics = new CoordinatorMetrics({
    ring: () => ({ version: 0, relays: [] }),
    sseClients: () => ({ cluster: 0, dashboard: 0 }),
    sessions: () => 0,
    storeAvailable: () => true,
  });
  const names = metrics.registry
    .getMetricsAsArray()
    .map((m) => m.name)
    .filter((n) => !/process|nodejs/.test(n));
  t.true(names.length >= 7);
  for (const name of names) t.regex(doc, new RegExp(`\`${name}(\\{|\`)`), name);
});
