/**
 * Callers waiting for a condition on a live stream (LL-HLS blocking reloads and held parts): each is
 * re-checked on every wake (a new part, segment or the end), and gives up after its own timeout.
 */
export class Waiters {
  private readonly checks = new Set<() => void>();

  /** Resolves true once `ready()` holds, false after `timeoutMs` or once `stopped()` (then `ready()`). */
  waitUntil(ready: () => boolean, timeoutMs: number, stopped: () => boolean): Promise<boolean> {
    if (ready()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const check = () => {
        if (!ready() && !stopped()) return;
        done(ready());
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      const done = (ok: boolean) => {
        clearTimeout(timer);
        this.checks.delete(check);
        resolve(ok);
      };
      this.checks.add(check);
    });
  }

  /** Re-checks every waiter. */
  wake(): void {
    for (const check of [...this.checks]) check();
  }
}
