/**
 * The link emulator process (native/tun.c, built by `npm --prefix native run build`): one per lab,
 * holding every host's TUN fd; this class speaks its line protocol, one reply per command, in order.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

/** Where `npm --prefix native run build` puts the emulator. */
export const emulatorPath = resolve(
  dirname(fileURLToPath(import.meta.url)),
  '../../native/build/Release/link_emulator',
);

type Pending = { resolve: (line: string) => void; reject: (err: Error) => void };

export class LinkEmulator {
  readonly #child: ChildProcessWithoutNullStreams;
  readonly #pending: Pending[] = [];
  #exited: Error | null = null;

  private constructor(child: ChildProcessWithoutNullStreams) {
    this.#child = child;
    createInterface({ input: child.stdout }).on('line', (line) => this.#onReply(line));
    child.on('exit', (code, signal) => {
      this.#exited = new Error(`link emulator exited (${signal ?? code})`);
      for (const p of this.#pending.splice(0)) p.reject(this.#exited);
    });
    child.on('error', () => {}); // surfaces as 'exit' or as a failed first command
  }

  /**
   * Starts the emulator; throws naming the build step when it is not built. `realtime` (the
   * default) runs it at SCHED_FIFO 1 so that CPU contention does not add to its links' delays.
   */
  static start(opts: { path?: string; realtime?: boolean } = {}): LinkEmulator {
    const path = opts.path ?? emulatorPath;
    if (!existsSync(path)) {
      throw new Error(`link emulator not built at ${path}: run \`npm --prefix native run build\``);
    }
    const args = opts.realtime === false ? ['--no-realtime'] : [];
    return new LinkEmulator(spawn(path, args, { stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Sends one control line; resolves with the reply, rejects on `err …` or when the process is gone. */
  command(line: string): Promise<string> {
    if (this.#exited) return Promise.reject(this.#exited);
    return new Promise((resolve, reject) => {
      this.#pending.push({ resolve, reject });
      this.#child.stdin.write(`${line}\n`);
    });
  }

  #onReply(line: string): void {
    const p = this.#pending.shift();
    if (!p) return;
    if (line.startsWith('err ')) p.reject(new Error(`link emulator: ${line.slice(4)}`));
    else p.resolve(line);
  }

  /** Ends the process (its TUN devices go with it); resolves once it has exited. */
  async close(): Promise<void> {
    if (this.#exited || this.#child.exitCode !== null) return;
    const exited = new Promise((r) => this.#child.once('exit', r));
    this.#child.stdin.end('quit\n');
    const timer = setTimeout(() => this.#child.kill('SIGKILL'), 2000);
    await exited;
    clearTimeout(timer);
  }

  /** For exit handlers, where nothing can be awaited. */
  killSync(): void {
    if (!this.#exited && this.#child.exitCode === null) this.#child.kill('SIGKILL');
  }
}
