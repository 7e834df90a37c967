/** Polling with a deadline: the deploy script waits on conditions, never on fixed sleeps. */

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export interface PollOptions {
  timeoutMs: number;
  intervalMs?: number;
}

/** Polls `check` until it returns a truthy value (returned) or the deadline passes (undefined). */
export async function pollUntil<T>(
  check: () => Promise<T | undefined | false | null> | T | undefined | false | null,
  opts: PollOptions,
): Promise<T | undefined> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    try {
      const value = await check();
      if (value) return value;
    } catch {
      // A failed probe counts as "not yet"; the deadline bounds the wait.
    }
    if (Date.now() >= deadline) return undefined;
    await sleep(opts.intervalMs ?? 200);
  }
}
