import { execFileSync, spawn } from 'node:child_process';

/** Pins a running process and all its threads to one CPU core. */
export function pin(pid: number, core: number): void {
  execFileSync('taskset', ['-a', '-p', '-c', String(core), String(pid)], { stdio: 'ignore' });
}

export interface WrkResult {
  requestsPerSec: number;
  transferPerSec: string;
  latencyP99: string;
  non2xx: number;
  errors: string;
}

/** Runs wrk pinned to `core` and parses its summary. */
export function wrk(
  url: string,
  opts: { core: number; seconds: number; connections: number },
): Promise<WrkResult> {
  return new Promise((resolve, reject) => {
    const args = [
      '-c',
      String(opts.core),
      'wrk',
      '-t1',
      `-c${opts.connections}`,
      `-d${opts.seconds}s`,
      '--latency',
      url,
    ];
    const child = spawn('taskset', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      const rps = /Requests\/sec:\s+([\d.]+)/.exec(out);
      if (code !== 0 || !rps) return reject(new Error(`wrk failed (${code}):\n${out}`));
      resolve({
        requestsPerSec: Number(rps[1]),
        transferPerSec: /Transfer\/sec:\s+(\S+)/.exec(out)?.[1] ?? '?',
        latencyP99: /\s99%\s+(\S+)/.exec(out)?.[1] ?? '?',
        non2xx: Number(/Non-2xx or 3xx responses:\s+(\d+)/.exec(out)?.[1] ?? 0),
        errors: /Socket errors:[^\n]*/.exec(out)?.[0] ?? 'none',
      });
    });
  });
}
