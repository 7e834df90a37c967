/** Runs harness/net/probe.mjs inside lab hosts: a server, and clients that report one JSON line. */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import type { Lab } from './lab.ts';

const probePath = resolve(dirname(fileURLToPath(import.meta.url)), 'probe.mjs');

export interface RttReport {
  connectMs: number;
  rttMs: number[];
}
export interface BulkReport {
  bytes: number;
  seconds: number;
  mbitPerS: number;
}
export type ConnectReport = { ok: true; ms: number } | { ok: false; error: string };

/** Starts a probe server in `host`; resolves once it listens. The lab stops it at close. */
export async function startProbeServer(
  lab: Lab,
  host: string,
): Promise<{ port: number; child: ChildProcess }> {
  const child = lab.spawn(host, process.execPath, [probePath, 'serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const exited = once(child, 'exit').then(() => {
    throw new Error(`probe server in ${host} exited before listening`);
  });
  const first = once(lines, 'line').then(([line]) => JSON.parse(line as string) as { port: number });
  const { port } = await Promise.race([first, exited]);
  return { port, child };
}

/** Runs one probe client in `from` and parses its report. */
export async function runProbe<T>(lab: Lab, from: string, args: (string | number)[]): Promise<T> {
  const out = await lab.run(from, process.execPath, [probePath, ...args.map(String)]);
  return JSON.parse(out.trim()) as T;
}

/** `count` round trips from `from` to the server at `to`:`port`. */
export function probeRtt(
  lab: Lab,
  from: string,
  to: string,
  port: number,
  count: number,
): Promise<RttReport> {
  return runProbe(lab, from, ['rtt', lab.host(to).address, port, count]);
}

/** Sends `bytes` over one TCP connection from `from` to `to`:`port`. */
export function probeBulk(
  lab: Lab,
  from: string,
  to: string,
  port: number,
  bytes: number,
): Promise<BulkReport> {
  return runProbe(lab, from, ['bulk', lab.host(to).address, port, bytes]);
}

/** One connect attempt from `from` to `to`:`port`, given up after `timeoutMs`. */
export function probeConnect(
  lab: Lab,
  from: string,
  to: string,
  port: number,
  timeoutMs: number,
): Promise<ConnectReport> {
  return runProbe(lab, from, ['connect', lab.host(to).address, port, timeoutMs]);
}

/** The median and the q-quantile (nearest rank) of `values`. */
export function quantile(values: readonly number[], q: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

/** Reads one counter of /proc/net/snmp (e.g. Tcp RetransSegs) as seen inside host `name`. */
export async function snmpCounter(lab: Lab, name: string, group: string, field: string): Promise<number> {
  return parseSnmp(await lab.run(name, 'cat', ['/proc/net/snmp']), group, field);
}

/** One counter from /proc/net/snmp text: a header line "Group: names…" then "Group: values…". */
export function parseSnmp(text: string, group: string, field: string): number {
  const rows = text.split('\n').filter((line) => line.startsWith(`${group}:`));
  for (let i = 0; i + 1 < rows.length; i += 2) {
    const names = rows[i].split(/\s+/).slice(1);
    const at = names.indexOf(field);
    if (at >= 0) return Number(rows[i + 1].split(/\s+/)[at + 1]);
  }
  throw new Error(`/proc/net/snmp has no ${group} ${field}`);
}
