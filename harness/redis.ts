import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { waitFor } from './wait.ts';

/** A private redis-server on a free port, stopped by its pid. */
export class TestRedis {
  readonly dir = mkdtempSync(join(tmpdir(), 'ringcast-redis-'));
  private pid: number | undefined;
  constructor(readonly port: number) {}

  static async create(): Promise<TestRedis> {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const { port } = srv.address() as { port: number };
        srv.close(() => resolve(port));
      });
    });
    const redis = new TestRedis(port);
    await redis.start();
    return redis;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(): Promise<void> {
    const pidfile = join(this.dir, 'redis.pid');
    rmSync(pidfile, { force: true });
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
    args.push('--daemonize', 'yes', '--dir', this.dir, '--pidfile', pidfile);
    const r = spawnSync('redis-server', args, { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`redis-server failed: ${r.stderr}${r.stdout}`);
    this.pid = await waitFor(() => Number(readFileSync(pidfile, 'utf8').trim()) || undefined, {
      timeoutMs: 5000,
      what: 'redis pid file',
    });
  }

  async stop(): Promise<void> {
    const pid = this.pid;
    if (!pid) return;
    this.pid = undefined;
    process.kill(pid, 'SIGTERM');
    await waitFor(
      () => {
        try {
          process.kill(pid, 0);
          return false;
        } catch {
          return true;
        }
      },
      { timeoutMs: 5000, what: 'redis to exit' },
    );
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
