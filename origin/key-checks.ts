import type { CoordinatorBases } from '../common/coordinator-bases.ts';
import { checkPublishKey, type KeyCheck } from './publish-auth.ts';
import type { PublishAuthResult } from './rtmp-ingest.ts';

/**
 * Publish keys asked of the coordinators: on every (re)connect, and again for live publishers every
 * `keyRecheckMs`, so a revoked or rotated-out key stops publishing. The coordinators are asked in turn
 * until one can answer; the one that did is preferred next time.
 */
export class CoordinatorKeyChecks {
  constructor(
    private readonly opts: {
      coordinators: CoordinatorBases;
      clusterSecret: string;
      /** The configured stream and its `--stream-key`: not for coordinator keys to take. */
      ownStreamId: string;
      ownKey: string;
    },
  ) {}

  /** Asks the coordinators about a key, in turn until one can answer. */
  async check(key: string): Promise<KeyCheck> {
    let result: KeyCheck = { refused: 'no coordinator configured', unreachable: true };
    for (const base of this.opts.coordinators.order()) {
      result = await checkPublishKey(base, this.opts.clusterSecret, key);
      if (!result.unreachable) {
        this.opts.coordinators.prefer(base);
        break;
      }
    }
    return result;
  }

  /** The verdict on a publish; the configured stream's id is not for coordinator keys to take. */
  async authorize(key: string): Promise<PublishAuthResult> {
    const { ownStreamId, ownKey } = this.opts;
    const result = await this.check(key);
    if ('streamId' in result && result.streamId === ownStreamId && ownKey)
      return { refused: `stream '${ownStreamId}' is this origin's own (--stream-key)` };
    return result;
  }

  /**
   * Re-checks live publishers' keys; `drop` each whose key no longer feeds its stream. Only a clear
   * verdict drops one: a coordinator that cannot be reached is no reason to cut a live stream.
   */
  async recheck(
    live: Iterable<{ streamId: string; key: string }>,
    drop: (streamId: string) => void,
  ): Promise<void> {
    for (const { streamId, key } of live) {
      if (key === this.opts.ownKey) continue;
      const result = await this.check(key);
      if (result.unreachable) continue;
      if ('refused' in result || result.streamId !== streamId) drop(streamId);
    }
  }
}

/** Refusal reasons as a small set of metric labels (reasons may carry details). */
export function refusalLabel(reason: string): string {
  if (/unreachable|check failed/.test(reason)) return 'key check failed';
  if (/unknown or revoked|wrong stream key/.test(reason)) return 'wrong stream key';
  return reason.replace(/'[^']*'/g, '').slice(0, 60);
}
