/** One deployed relay, local or on a host: what status, stop and rolling-restart need from it. */
import type { RelayInfo } from '../../common/types.ts';
import type { CoordinatorApi } from './coordinator-api.ts';
import { DeployError } from './errors.ts';

export interface RelayHandle {
  /** For messages: `relay-8081` or `root@10.0.0.5:relay-a`. */
  readonly label: string;
  /** Relay id as the coordinator knows it. */
  readonly id: string;
  /** Public URL, as listed in the ring. */
  readonly url: string;
  isRunning(): Promise<boolean>;
  /** Starts it with its recorded settings; resolves once the process runs. */
  start(): Promise<void>;
  /** SIGTERM (the relay drains and deregisters), then waits for the process to exit. */
  stop(): Promise<void>;
  lastLogLines(count: number): Promise<string[]>;
}

/** Waits until the coordinator lists the relay as active; otherwise throws with its last log lines. */
export async function waitInRing(
  relay: RelayHandle,
  coordinator: CoordinatorApi,
  timeoutMs: number,
): Promise<RelayInfo> {
  const listed = await coordinator.waitListed(relay.url, timeoutMs);
  if (listed) return listed;
  const logs = await relay.lastLogLines(20).catch((err: Error) => [`(could not read logs: ${err.message})`]);
  const seen = await coordinator.relayByUrl(relay.url).catch(() => undefined);
  const state = seen ? `listed as ${seen.state}` : 'not listed';
  throw new DeployError(
    'DEPLOY_NOT_IN_RING',
    `${relay.label}: coordinator ${coordinator.baseUrl} never listed ${relay.url} as active within ${timeoutMs} ms (${state}); its last log lines:`,
    { details: logs.length > 0 ? logs : ['(log is empty)'] },
  );
}
