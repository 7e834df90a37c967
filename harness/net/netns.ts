/**
 * Network namespaces as lab hosts, through iproute2: made, configured, and removed with everything
 * running inside, also synchronously (exit handlers) and for labs left by killed runs.
 */
import { execFile, execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** Every lab namespace is named `rc-<pid>-<lab>-<host>`: the pid says whose it is. */
export const labPrefix = 'rc-';

/** Runs `ip ARGS` (feeding `input` to a `-batch -`); throws with ip's own message. */
export async function ip(args: string[], input?: string): Promise<string> {
  if (input === undefined) return (await execFileP('ip', args)).stdout;
  return new Promise((resolve, reject) => {
    const child = execFile('ip', args, (err, stdout, stderr) =>
      err ? reject(new Error(`ip ${args.join(' ')}: ${stderr.trim() || err.message}`)) : resolve(stdout),
    );
    child.stdin?.end(input);
  });
}

/** Names from `ip netns list` output ("NAME" or "NAME (id: N)" per line). */
export function parseNetnsList(text: string): string[] {
  return text
    .split('\n')
    .map((line) => line.trim().split(/\s+/)[0])
    .filter((name) => name !== undefined && name !== '');
}

/** The owner's pid of a lab namespace name, or null when the name is not a lab's. */
export function ownerPid(name: string): number | null {
  const m = /^rc-(\d+)-\d+-\d+$/.exec(name);
  return m ? Number(m[1]) : null;
}

export function listNamespaces(): string[] {
  return parseNetnsList(execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }));
}

/** Is `pid` a running process? A zombie (dead, not yet reaped) counts as gone. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    // The state follows the parenthesised command name, which may itself hold ') '.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The batch that turns a moved-in TUN into the host's eth0 with its address. The emulator only
 * forwards IPv4, so IPv6 stays off (no router solicitations or DAD chatter on the wire).
 */
export function hostSetupBatch(tun: string, address: string, prefixLength: number): string {
  return [
    'link set lo up',
    `link set ${tun} name eth0`,
    `addr add ${address}/${prefixLength} dev eth0`,
    'link set eth0 up',
  ].join('\n');
}

/** Makes namespace `netns` a host: `tun` (held by the emulator) moved in as eth0 with `address`. */
export async function addHost(netns: string, tun: string, address: string, prefixLength: number) {
  await ip(['netns', 'add', netns]);
  await ip(['link', 'set', tun, 'netns', netns]);
  await ip(['-n', netns, '-batch', '-'], hostSetupBatch(tun, address, prefixLength));
}

/** The pids of every process whose network namespace is `netns`. */
export function pidsIn(netns: string): number[] {
  try {
    const out = execFileSync('ip', ['netns', 'pids', netns], { encoding: 'utf8', stdio: 'pipe' });
    return out.split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Kills everything inside `netns` and deletes it; synchronous so exit handlers can use it. */
export function removeNamespaceSync(netns: string): void {
  for (const pid of pidsIn(netns)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
  try {
    execFileSync('ip', ['netns', 'del', netns], { stdio: 'pipe' });
  } catch {}
}

/** Does `netns` still hold an eth0? A lab's eth0 lives exactly as long as its emulator. */
function hasEth0(netns: string): boolean {
  try {
    execFileSync('ip', ['-n', netns, 'link', 'show', 'eth0'], { stdio: 'pipe' });
    return true;
  } catch {
    return false;
  }
}

/**
 * Lab namespaces whose owner is gone. A pid may look dead from another pid namespace, so a lab
 * whose eth0 still exists (its emulator, which dies with its owner, is alive) is never stale.
 */
export function staleLabNamespaces(
  names: readonly string[],
  alive: (pid: number) => boolean = pidAlive,
  wired: (netns: string) => boolean = hasEth0,
): string[] {
  return names.filter((name) => {
    const pid = ownerPid(name);
    return pid !== null && pid !== process.pid && !alive(pid) && !wired(name);
  });
}

/** Removes every stale lab namespace (and whatever still runs in it); returns their names. */
export function sweepStaleLabs(): string[] {
  const stale = staleLabNamespaces(listNamespaces());
  for (const name of stale) removeNamespaceSync(name);
  return stale;
}
