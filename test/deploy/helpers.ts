import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type PartProcess, spawnPart, stopPart } from '../../cli/part-process.ts';
import type { RingView } from '../../common/types.ts';
import { getText } from '../../harness/wait.ts';

export const SCRIPT = fileURLToPath(new URL('../../scripts/deploy-relays', import.meta.url));

export interface ScriptRun {
  code: number | null;
  stdout: string;
  stderr: string;
  /** stdout and stderr, for assertion messages. */
  output: string;
}

/** Runs `scripts/deploy-relays ARGS` to its end. */
export function runDeploy(
  args: string[],
  opts: { timeoutMs?: number; cwd?: string } = {},
): Promise<ScriptRun> {
  return new Promise((resolve) => {
    const child = spawn(SCRIPT, args, { cwd: opts.cwd ?? tmpdir(), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    const killer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('close', (code) => {
      clearTimeout(killer);
      resolve({ code, stdout, stderr, output: `--- stdout\n${stdout}\n--- stderr\n${stderr}` });
    });
  });
}

/** A temp dir with a secret file (mode 600) for one test. */
export function makeWorkDir(prefix: string): { dir: string; secret: string; secretFile: string } {
  const dir = mkdtempSync(join(tmpdir(), `ringcast-deploy-${prefix}-`));
  const secret = `deploy-secret-${process.pid}-${Date.now()}`;
  const secretFile = join(dir, 'secret');
  writeFileSync(secretFile, `${secret}\n`, { mode: 0o600 });
  return { dir, secret, secretFile };
}

export async function startCoordinator(secret: string, logFile?: string): Promise<PartProcess> {
  return spawnPart({
    part: 'coordinator',
    args: ['--port', '0'],
    env: { RINGCAST_CLUSTER_SECRET: secret, RINGCAST_LOG_LEVEL: 'info' },
    logFile,
  });
}

export async function ringOf(coordinatorUrl: string): Promise<RingView> {
  return JSON.parse(await getText(`${coordinatorUrl}/api/v1/ring`)) as RingView;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

/** The pids recorded by `local` under `dir` (relay-N.pid), by file name. */
export function localPids(dir: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const f of readdirSync(dir).filter((x) => /^relay-\d+\.pid$/.test(x)))
    out.set(f, Number(readFileSync(join(dir, f), 'utf8').trim()));
  return out;
}

/** Test cleanup: kills whatever `local` left running under `dir`, then removes `dir`. */
export function killLocalRelays(dir: string): void {
  try {
    for (const pid of localPids(dir).values()) if (alive(pid)) process.kill(pid, 'SIGKILL');
  } catch {
    // The dir may be gone already.
  }
}

export async function cleanup(opts: {
  parts?: (PartProcess | undefined)[];
  relayDirs?: string[];
  dirs?: string[];
}): Promise<void> {
  for (const d of opts.relayDirs ?? []) killLocalRelays(d);
  await Promise.all((opts.parts ?? []).map((p) => (p ? stopPart(p, 3000) : undefined)));
  for (const d of opts.dirs ?? []) rmSync(d, { recursive: true, force: true });
}
