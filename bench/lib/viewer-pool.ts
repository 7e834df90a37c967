import { type ChildProcess, fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { ViewerSummary, WorkerResult, WorkerStart } from './viewer-worker.ts';

const WORKER = fileURLToPath(new URL('./viewer-worker.ts', import.meta.url));

/** What a pool of simulated viewers saw, summed over its worker processes. */
export interface PoolResult {
  viewers: ViewerSummary[];
  ttfbMs: number[];
  segmentMs: number[];
  /** CPU seconds per wall second used by the simulator processes themselves. */
  simulatorCpu: number;
}

/** Simulated viewers in `workers` forked processes; `stop()` ends them and gathers their results. */
export class ViewerPool {
  private readonly children: ChildProcess[] = [];

  constructor(
    private readonly opts: {
      masterUrl: string;
      viewers: number;
      prefix: string;
      workers?: number;
      rampMs?: number;
      requestTimeoutMs?: number;
    },
  ) {}

  start(): void {
    const workers = Math.max(
      1,
      Math.min(this.opts.viewers, this.opts.workers ?? Math.ceil(this.opts.viewers / 500)),
    );
    const per = Math.ceil(this.opts.viewers / workers);
    for (let w = 0, from = 0; w < workers && from < this.opts.viewers; w++, from += per) {
      const child = fork(WORKER, [], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      const msg: WorkerStart = {
        type: 'start',
        masterUrl: this.opts.masterUrl,
        prefix: this.opts.prefix,
        from,
        count: Math.min(per, this.opts.viewers - from),
        rampMs: this.opts.rampMs ?? 2000,
        requestTimeoutMs: this.opts.requestTimeoutMs,
      };
      child.send(msg);
      this.children.push(child);
    }
  }

  async stop(): Promise<PoolResult> {
    const results = await Promise.all(
      this.children.map(
        (child) =>
          new Promise<WorkerResult>((resolve, reject) => {
            child.once('message', (m: WorkerResult) => resolve(m));
            child.once('exit', (code) =>
              reject(new Error(`viewer worker exited (${code}) without a result`)),
            );
            child.send({ type: 'stop' });
          }),
      ),
    );
    return {
      viewers: results.flatMap((r) => r.viewers),
      ttfbMs: results.flatMap((r) => r.ttfbMs),
      segmentMs: results.flatMap((r) => r.segmentMs),
      simulatorCpu: results.reduce((n, r) => n + r.cpuMs / r.wallMs, 0),
    };
  }

  /** Kills the workers without waiting for results (cleanup after an error). */
  kill(): void {
    for (const c of this.children) if (c.exitCode === null) c.kill('SIGKILL');
  }
}
