/** What the deploy script asks the coordinator: the ring, viewer counts, and draining a relay. */
import type { ClusterView, RelayInfo, RingView } from '../../common/types.ts';
import { DeployError, messageOf } from './errors.ts';
import { pollUntil } from './wait.ts';

const REQUEST_TIMEOUT_MS = 5000;

export class CoordinatorApi {
  constructor(
    readonly baseUrl: string,
    private readonly secret?: string,
  ) {}

  async ring(): Promise<RingView> {
    return this.getJson<RingView>('/api/v1/ring');
  }

  async cluster(): Promise<ClusterView> {
    return this.getJson<ClusterView>('/api/v1/cluster');
  }

  /** The ring member serving `url`, if any. */
  async relayByUrl(url: string): Promise<RelayInfo | undefined> {
    const want = normaliseUrl(url);
    return (await this.cluster()).ring.relays.find((r) => normaliseUrl(r.url) === want);
  }

  /** Fails with a clear error when the coordinator does not answer. */
  async check(): Promise<void> {
    try {
      await this.ring();
    } catch (err) {
      throw new DeployError(
        'DEPLOY_COORDINATOR_UNREACHABLE',
        `coordinator ${this.baseUrl} does not answer: ${messageOf(err)}`,
        { cause: err },
      );
    }
  }

  /** Asks the coordinator to send no new viewers to relay `id` (it keeps serving). */
  async drain(id: string): Promise<void> {
    const res = await fetch(`${this.baseUrl}/api/v1/relays/${encodeURIComponent(id)}/drain`, {
      method: 'POST',
      headers: { authorization: `Bearer ${this.secret ?? ''}` },
      signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
    });
    if (!res.ok) {
      const hint = res.status === 401 ? " (the secret does not match the coordinator's)" : '';
      throw new DeployError(
        'DEPLOY_DRAIN_FAILED',
        `drain ${id}: coordinator answered ${res.status}${hint}: ${(await res.text()).slice(0, 300)}`,
      );
    }
  }

  /** Waits until the ring lists `url` (as active unless `anyState`); returns it, or undefined at the deadline. */
  waitListed(url: string, timeoutMs: number, anyState = false): Promise<RelayInfo | undefined> {
    return pollUntil(
      async () => {
        const r = await this.relayByUrl(url);
        return r && (anyState || r.state === 'active') ? r : undefined;
      },
      { timeoutMs, intervalMs: 250 },
    );
  }

  /** Waits until the ring no longer lists `url`; false at the deadline. */
  async waitGone(url: string, timeoutMs: number): Promise<boolean> {
    const gone = await pollUntil(async () => !(await this.relayByUrl(url)), { timeoutMs, intervalMs: 250 });
    return gone === true;
  }

  /** Waits until relay `id` reports no viewers (or has left the ring); false at the deadline. */
  async waitNoViewers(id: string, timeoutMs: number): Promise<boolean> {
    const done = await pollUntil(
      async () => {
        const r = (await this.cluster()).ring.relays.find((x) => x.id === id);
        return !r || (r.load?.viewers ?? 0) === 0;
      },
      { timeoutMs, intervalMs: 500 },
    );
    return done === true;
  }

  private async getJson<T>(path: string): Promise<T> {
    const res = await fetch(`${this.baseUrl}${path}`, { signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    if (!res.ok) throw new Error(`GET ${path}: ${res.status}`);
    return (await res.json()) as T;
  }
}

/** `http://Host:80/` and `http://host` compare equal. */
export function normaliseUrl(url: string): string {
  try {
    return new URL(url).toString().replace(/\/+$/, '');
  } catch {
    return url.replace(/\/+$/, '');
  }
}
