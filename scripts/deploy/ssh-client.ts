/** Runs shell scripts on one host through the system `ssh` (batch mode: keys only, never a prompt). */
import { spawn } from 'node:child_process';
import type { Readable } from 'node:stream';
import { DeployError } from './errors.ts';

export interface SshTarget {
  /** `user@host` or `host`. */
  target: string;
  port: number;
  identityFile: string | undefined;
  knownHostsFile: string | undefined;
  connectTimeoutS: number;
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Quotes one word for sh. */
export function shQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replace(/'/g, `'\\''`)}'`;
}

/** ssh exits 255 when it could not connect or authenticate. */
const SSH_FAILED = 255;

export class SshClient {
  constructor(private readonly t: SshTarget) {}

  /** The ssh options shared by every call. */
  options(): string[] {
    const o = ['-o', 'BatchMode=yes', '-o', 'StrictHostKeyChecking=accept-new', '-o', 'LogLevel=ERROR'];
    o.push('-o', `ConnectTimeout=${this.t.connectTimeoutS}`, '-o', 'ServerAliveInterval=10');
    if (this.t.knownHostsFile) o.push('-o', `UserKnownHostsFile=${this.t.knownHostsFile}`);
    if (this.t.identityFile) o.push('-o', 'IdentitiesOnly=yes', '-i', this.t.identityFile);
    o.push('-p', String(this.t.port));
    return o;
  }

  /** The command line, for dry runs and messages. */
  describe(script: string): string {
    return ['ssh', ...this.options(), this.t.target, `sh -c ${shQuote(script)}`].map(shQuote).join(' ');
  }

  /** Runs `script` with sh on the host; `input` goes to its stdin. Never throws for a non-zero exit. */
  run(script: string, input?: string | Buffer | Readable, timeoutMs = 300_000): Promise<SshResult> {
    const child = spawn('ssh', [...this.options(), this.t.target, `sh -c ${shQuote(script)}`], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.stdin.on('error', () => {
      // The remote side may exit before reading all input; its exit status tells what happened.
    });
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (e) => err.push(Buffer.from(e.message)));
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        const stderr = Buffer.concat(err).toString('utf8');
        const timedOut = signal === 'SIGKILL' ? `\n(timed out after ${timeoutMs} ms)` : '';
        resolve({
          code: code ?? SSH_FAILED,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: stderr + timedOut,
        });
      });
    });
  }

  /** Runs `script`; throws DEPLOY_HOST_UNREACHABLE when ssh cannot connect, DEPLOY_REMOTE_FAILED when it fails. */
  async runChecked(what: string, script: string, input?: string | Buffer | Readable): Promise<string> {
    const r = await this.run(script, input);
    if (r.code === 0) return r.stdout;
    const lines = r.stderr.trim().split('\n').filter(Boolean).slice(-15);
    if (r.code === SSH_FAILED) {
      throw new DeployError(
        'DEPLOY_HOST_UNREACHABLE',
        `${this.t.target} (ssh port ${this.t.port}) is unreachable: ${lines.at(-1) ?? 'ssh failed'}`,
        { details: lines.slice(0, -1) },
      );
    }
    throw new DeployError('DEPLOY_REMOTE_FAILED', `${this.t.target}: ${what} failed (exit ${r.code})`, {
      details: [...r.stdout.trim().split('\n').filter(Boolean).slice(-10), ...lines],
    });
  }
}
