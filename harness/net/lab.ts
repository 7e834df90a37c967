/**
 * A network lab: hosts (network namespaces, each with one address on eth0) joined by the link
 * emulator, whose directed links add delay, jitter, loss, a rate limit or a partition
 * (docs/network-lab.md). Everything a lab makes is removed by close(), on process exit and on
 * SIGINT/SIGTERM; labs left by killed runs are removed when the next lab is created.
 */
import { type ChildProcess, type SpawnOptions, spawn } from 'node:child_process';
import { forgetOnExit, removeOnExit } from './exit-sweep.ts';
import { LinkEmulator } from './link-emulator.ts';
import {
  type EmulatorStats,
  type LinkSpec,
  linkCommand,
  mergeLink,
  openLink,
  parseStats,
} from './link-spec.ts';
import { addHost, removeNamespaceSync, sweepStaleLabs } from './netns.ts';

/** One host of a lab. */
export interface LabHost {
  name: string;
  /** Its network namespace (`ip netns exec <netns> …`). */
  netns: string;
  /** Its only address (eth0, a /24 shared by the lab). */
  address: string;
}

export interface LabOptions {
  /** Host names, in address order (.1, .2, …); at most 64. */
  hosts: readonly string[];
  /** Every link's starting parameters (default: an open link, nothing added). */
  link?: Partial<LinkSpec>;
  /** Seeds the emulator's loss and jitter draws, so a run can be repeated. */
  seed?: number;
  /** Run the emulator at SCHED_FIFO 1 (default true): see docs/network-lab.md. */
  realtime?: boolean;
}

let labsMade = 0;

/** Makes a lab; on failure removes whatever it made before throwing. */
export async function createLab(opts: LabOptions): Promise<Lab> {
  const bad = badHostNames(opts.hosts);
  if (bad) throw new Error(`lab: ${bad}`);
  mergeLink(openLink, opts.link ?? {}); // a bad default link is refused before anything is made
  sweepStaleLabs();
  const lab = new Lab(opts, labsMade++, LinkEmulator.start({ realtime: opts.realtime }));
  try {
    await lab.start(opts);
    return lab;
  } catch (err) {
    await lab.close();
    throw err;
  }
}

export class Lab {
  readonly hosts: readonly LabHost[];
  readonly #emulator: LinkEmulator;
  readonly #links = new Map<string, LinkSpec>();
  readonly #children = new Set<ChildProcess>();
  #closed = false;

  /** Use createLab(). Names and addresses are fixed here; no host is made until start(). */
  constructor(opts: LabOptions, seq: number, emulator: LinkEmulator) {
    // The /24 only has to be unique inside the lab (each host sees only its own emulator), the
    // octet varies so that logs of concurrent labs are told apart.
    const subnet = `10.77.${((process.pid + seq) % 254) + 1}`;
    this.hosts = opts.hosts.map((name, i) => ({
      name,
      netns: `rc-${process.pid}-${seq}-${i}`,
      address: `${subnet}.${i + 1}`,
    }));
    this.#emulator = emulator;
    removeOnExit(this, () => this.#removeSync());
  }

  /** Opens each host's TUN in the emulator, moves it into the host's namespace, sets every link. */
  async start(opts: LabOptions): Promise<void> {
    if (opts.seed !== undefined) await this.#emulator.command(`seed ${Math.trunc(opts.seed)}`);
    const pid36 = process.pid.toString(36);
    for (const [i, host] of this.hosts.entries()) {
      const tun = `rc${pid36}-${host.netns.split('-')[2]}-${i}`; // 15 bytes at most: IFNAMSIZ
      await this.#emulator.command(`host ${i} ${tun} ${host.address}`);
      await addHost(host.netns, tun, host.address, 24);
    }
    const spec = mergeLink(openLink, opts.link ?? {});
    for (const from of this.hosts) {
      for (const to of this.hosts) if (from !== to) await this.#apply(from, to, spec);
    }
  }

  /** The emulator's pid (tests check that close() ends it). */
  get emulatorPid(): number | undefined {
    return this.#emulator.pid;
  }

  /** The host named `name`; throws naming the lab's hosts when there is none. */
  host(name: string): LabHost {
    const host = this.hosts.find((h) => h.name === name);
    if (!host) throw new Error(`lab: no host '${name}' (hosts: ${this.hosts.map((h) => h.name).join(', ')})`);
    return host;
  }

  /** The current parameters of link `from` → `to`. */
  link(from: string, to: string): LinkSpec {
    return { ...this.#links.get(`${this.host(from).name}>${this.host(to).name}`)! };
  }

  /** Changes link `from` → `to` at run time (packets already in flight keep their timing). */
  async setLink(from: string, to: string, patch: Partial<LinkSpec>): Promise<void> {
    await this.#apply(this.host(from), this.host(to), mergeLink(this.link(from, to), patch));
  }

  /** Changes both directions between `a` and `b`. */
  async setPath(a: string, b: string, patch: Partial<LinkSpec>): Promise<void> {
    await this.setLink(a, b, patch);
    await this.setLink(b, a, patch);
  }

  /** Cuts `a` from `b` both ways: every packet between them is dropped until heal(). */
  partition(a: string, b: string): Promise<void> {
    return this.setPath(a, b, { up: false });
  }

  heal(a: string, b: string): Promise<void> {
    return this.setPath(a, b, { up: true });
  }

  /** Per-link counters and the emulator's own timing, since the lab started. */
  async stats(): Promise<EmulatorStats> {
    const names = this.hosts.map((h) => h.name);
    return parseStats(await this.#emulator.command('stats'), names);
  }

  /** Starts `command` inside host `name`; the lab stops it at close() if the caller has not. */
  spawn(name: string, command: string, args: readonly string[] = [], opts: SpawnOptions = {}): ChildProcess {
    if (this.#closed) throw new Error('lab: closed');
    // `ip netns exec` execs the command in place: the child's pid is the command's own.
    const child = spawn('ip', ['netns', 'exec', this.host(name).netns, command, ...args], opts);
    this.#children.add(child);
    child.once('exit', () => this.#children.delete(child));
    child.on('error', () => {}); // an 'exit' follows; callers that care listen themselves
    return child;
  }

  /** Runs `command` inside host `name` to its end; resolves with its output, rejects on a failure. */
  run(name: string, command: string, args: readonly string[] = []): Promise<string> {
    return new Promise((resolve, reject) => {
      const child = this.spawn(name, command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      let err = '';
      child.stdout!.on('data', (d) => (out += d));
      child.stderr!.on('data', (d) => (err += d));
      child.once('close', (code, signal) =>
        code === 0
          ? resolve(out)
          : reject(new Error(`${command} in ${name}: ${signal ?? code} ${err.trim()}`)),
      );
    });
  }

  /** Stops every process the lab started, removes every namespace, ends the emulator. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    forgetOnExit(this);
    await Promise.all([...this.#children].map((child) => stopChild(child)));
    await this.#emulator.close(); // first: its TUNs go with it, so it never polls a vanished device
    for (const host of this.hosts) removeNamespaceSync(host.netns);
  }

  async #apply(from: LabHost, to: LabHost, spec: LinkSpec): Promise<void> {
    const src = this.hosts.indexOf(from);
    const dst = this.hosts.indexOf(to);
    await this.#emulator.command(linkCommand(src, dst, spec));
    this.#links.set(`${from.name}>${to.name}`, spec);
  }

  #removeSync(): void {
    this.#closed = true;
    for (const child of this.#children) child.kill('SIGKILL');
    this.#emulator.killSync();
    for (const host of this.hosts) removeNamespaceSync(host.netns);
  }
}

/** Why `hosts` cannot name a lab's hosts, or null when they can. */
export function badHostNames(hosts: readonly string[]): string | null {
  if (hosts.length < 1 || hosts.length > 64) return `a lab has 1 to 64 hosts, not ${hosts.length}`;
  const twice = hosts.filter((h, i) => hosts.indexOf(h) !== i);
  if (twice.length > 0) return `host names must differ: ${[...new Set(twice)].join(', ')} given twice`;
  if (hosts.some((h) => h === '')) return 'host names must not be empty';
  return null;
}

/** SIGTERM, then SIGKILL after 2 s; resolves once the child has exited. */
async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
  await exited;
  clearTimeout(timer);
}
