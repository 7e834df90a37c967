/**
 * Removal of live labs however the process ends: normal exit, an uncaught error, SIGINT or SIGTERM.
 * Only synchronous work is possible there, so each lab registers a synchronous remover.
 */
const removers = new Map<object, () => void>();
const signals = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
let installed = false;

function removeAll(): void {
  for (const remove of removers.values()) {
    try {
      remove();
    } catch {}
  }
  removers.clear();
}

/**
 * After removing the labs, a signal the process would have died of still kills it: the handler
 * re-raises it when no one else listens (installing a listener would otherwise swallow it).
 */
function onSignal(signal: NodeJS.Signals): void {
  removeAll();
  for (const s of signals) process.removeListener(s, onSignal);
  if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
}

/** Runs `remove` at exit unless forgetOnExit(owner) came first. */
export function removeOnExit(owner: object, remove: () => void): void {
  removers.set(owner, remove);
  if (installed) return;
  installed = true;
  process.on('exit', removeAll);
  for (const s of signals) process.on(s, onSignal);
}

export function forgetOnExit(owner: object): void {
  removers.delete(owner);
}
