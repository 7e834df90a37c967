/**
 * Viewer balance and key movement: 1,000 sessions over 8 relays with bounded loads beside plain ring
 * placement, and the share of sessions and segment keys that move when a relay joins or leaves.
 *   npm run bench:balance
 */
import { Ring } from '../common/ring.ts';
import type { RelayInfo } from '../common/types.ts';
import { ViewerBalancer } from '../coordinator/viewer-balancer.ts';
import { table, writeSection } from './lib/report.ts';

const SESSIONS = 1000;
const RELAYS = 8;
const KEYS = 20_000;
const LOAD_FACTOR = 1.1;

const relay = (i: number): RelayInfo => ({
  id: `relay-${i}`,
  url: `http://10.0.0.${i}:8081`,
  capacity: 1,
  state: 'active',
});
const members = (n: number) => Array.from({ length: n }, (_, i) => relay(i + 1));
const sessions = Array.from({ length: SESSIONS }, (_, i) => `viewer-${i}-${(i * 2654435761) % 1000003}`);
const keys = Array.from(
  { length: KEYS },
  (_, i) => `demo/${['720p', '480p', '360p'][i % 3]}/${Math.floor(i / 3)}.m4s`,
);

function spread(counts: Map<string, number>): { max: number; mean: number; ratio: number } {
  const values = [...counts.values()];
  const max = Math.max(...values);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  return { max, mean, ratio: max / mean };
}

function plainPlacement(relays: RelayInfo[]): Map<string, string> {
  const ring = new Ring({ version: 1, relays });
  return new Map(sessions.map((s) => [s, ring.owner(s)!.id]));
}

function boundedPlacement(
  relays: RelayInfo[],
  balancer = new ViewerBalancer({ loadFactor: LOAD_FACTOR, sessionTtlMs: 1e9 }),
) {
  balancer.setRelays(relays);
  return { balancer, placement: new Map(sessions.map((s) => [s, balancer.assign(s, 0).relayIds[0]!])) };
}

const countBy = (placement: Map<string, string>) => {
  const m = new Map<string, number>();
  for (const id of placement.values()) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
};
const moved = (a: Map<string, string>, b: Map<string, string>) =>
  [...a].filter(([k, v]) => b.get(k) !== v).length;
const pct = (n: number, of: number) => `${((100 * n) / of).toFixed(1)}%`;

const eight = members(RELAYS);
const nine = members(RELAYS + 1);
const seven = eight.filter((r) => r.id !== 'relay-3');

const plain = spread(countBy(plainPlacement(eight)));
const { balancer, placement: bounded8 } = boundedPlacement(eight);
const bounded = spread(countBy(bounded8));

// Sticky: the coordinator keeps each placed session on its relay while that relay lives.
balancer.setRelays(nine);
const afterJoinSticky = new Map(sessions.map((s) => [s, balancer.assign(s, 0).relayIds[0]!]));
const { balancer: b8balancer, placement: b8 } = boundedPlacement(eight);
b8balancer.setRelays(seven);
const afterLeaveSticky = new Map(sessions.map((s) => [s, b8balancer.assign(s, 0).relayIds[0]!]));
const afterLeaveSpread = spread(countBy(afterLeaveSticky));

const ring8 = new Ring({ version: 1, relays: eight });
const ring9 = new Ring({ version: 2, relays: nine });
const ring7 = new Ring({ version: 2, relays: seven });
const keyMovesJoin = keys.filter((k) => ring8.owner(k)!.id !== ring9.owner(k)!.id).length;
const keyMovesLeave = keys.filter((k) => ring8.owner(k)!.id !== ring7.owner(k)!.id).length;
const plainJoin = moved(plainPlacement(eight), plainPlacement(nine));

const balanceRows = [
  ['plain ring (owner of the session hash)', plain.max, plain.mean.toFixed(1), plain.ratio.toFixed(3)],
  [`bounded loads (factor ${LOAD_FACTOR})`, bounded.max, bounded.mean.toFixed(1), bounded.ratio.toFixed(3)],
  [
    'bounded, after one of 8 relays left',
    afterLeaveSpread.max,
    afterLeaveSpread.mean.toFixed(1),
    afterLeaveSpread.ratio.toFixed(3),
  ],
];
const moveRows = [
  [
    'sessions, relay joins (sticky bounded)',
    pct(moved(b8, afterJoinSticky), SESSIONS),
    '0% (placed viewers stay)',
  ],
  [
    'sessions, relay leaves (sticky bounded)',
    pct(moved(b8, afterLeaveSticky), SESSIONS),
    `${pct(1, RELAYS)} (its viewers)`,
  ],
  ['sessions, relay joins (plain ring)', pct(plainJoin, SESSIONS), pct(1, RELAYS + 1)],
  ['segment keys, relay joins', pct(keyMovesJoin, KEYS), pct(1, RELAYS + 1)],
  ['segment keys, relay leaves', pct(keyMovesLeave, KEYS), pct(1, RELAYS)],
];
for (const r of [...balanceRows, ...moveRows]) process.stdout.write(`${r.join('  ')}\n`);

writeSection(
  'balance',
  `## Viewer balance and key movement

\`npm run bench:balance\`: ${SESSIONS} sessions over ${RELAYS} relays of equal capacity, ${KEYS} segment keys.

${table(['placement', 'max sessions', 'mean', 'max / mean'], balanceRows)}

${table(['what moves', 'measured', 'ideal'], moveRows)}

Bounded loads keep every relay within ${LOAD_FACTOR}× of the mean; plain consistent hashing of sessions
does not. Placed sessions are sticky, so a joining relay takes new viewers only, and a leaving relay's
viewers (and only they) move.`,
);
