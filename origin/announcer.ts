import { CoordinatorBases } from '../common/coordinator-bases.ts';
import { callJson, type RetryPolicy, retryDelayMs } from '../common/http.ts';
import type { Logger } from '../common/log.ts';
import type { SegmentAnnouncement, StreamInfo } from '../common/types.ts';

export interface AnnouncerOptions {
  /** One coordinator, or several sharing state (tried in turn when one fails). */
  coordinatorUrl: string | readonly string[];
  secret: string;
  log: Logger;
  retry: RetryPolicy;
  /** Period of the stream re-announcement, so a restarted coordinator learns the stream again. */
  intervalMs: number;
  /** Oldest segment announcements are dropped beyond this many queued (they are stale by then). */
  maxQueued?: number;
  timeoutMs?: number;
}

type Job = { kind: 'stream'; info: StreamInfo } | { kind: 'segment'; segment: SegmentAnnouncement };

/**
 * Tells the coordinator about streams and finished segments, in order, from a queue that retries
 * with backoff. Callers only enqueue: packaging never waits for the coordinator.
 */
export class Announcer {
  private readonly opts: AnnouncerOptions;
  private readonly bases: CoordinatorBases;
  private readonly queue: Job[] = [];
  private readonly streams = new Map<string, StreamInfo>();
  private running = false;
  private closed = false;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(opts: AnnouncerOptions) {
    this.opts = opts;
    this.bases = new CoordinatorBases(
      typeof opts.coordinatorUrl === 'string' ? [opts.coordinatorUrl] : opts.coordinatorUrl,
    );
  }

  start(): void {
    if (this.timer || this.closed) return;
    this.timer = setInterval(() => {
      for (const info of this.streams.values()) this.enqueueStream(info);
    }, this.opts.intervalMs);
    this.timer.unref();
  }

  /** Announces a stream's state (and remembers it for the periodic re-announcement). */
  stream(info: StreamInfo): void {
    this.streams.set(info.id, info);
    this.enqueueStream(info);
  }

  segment(segment: SegmentAnnouncement): void {
    this.queue.push({ kind: 'segment', segment });
    const max = this.opts.maxQueued ?? 500;
    if (this.queue.length > max) {
      const i = this.queue.findIndex((j) => j.kind === 'segment');
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.pump();
  }

  /** Sends what is queued within `graceMs`, then stops. */
  async close(graceMs = 1000): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    const deadline = Date.now() + graceMs;
    while (this.running && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    this.closed = true;
    this.queue.length = 0;
    this.wake?.();
  }

  private enqueueStream(info: StreamInfo): void {
    // Only the latest state of a stream matters: replace a queued one in place.
    const i = this.queue.findIndex((j) => j.kind === 'stream' && j.info.id === info.id);
    if (i >= 0) this.queue[i] = { kind: 'stream', info };
    else this.queue.push({ kind: 'stream', info });
    this.pump();
  }

  private pump(): void {
    if (this.running || this.closed) return;
    this.running = true;
    void this.drain().finally(() => {
      this.running = false;
    });
  }

  private async drain(): Promise<void> {
    while (this.queue.length > 0 && !this.closed) {
      const job = this.queue[0]!;
      for (let attempt = 0; !this.closed; attempt++) {
        try {
          await this.send(job);
          break;
        } catch (err) {
          if (attempt >= this.opts.retry.maxNumRetry) {
            this.opts.log.warn({ err: String(err), kind: job.kind }, 'announcement dropped after retries');
            break;
          }
          this.opts.log.debug({ err: String(err), attempt }, 'announcement failed; retrying');
          // A coordinator that lost the stream (restart) answers 404 to a segment: tell it again first.
          if (job.kind === 'segment' && /HTTP 404/.test(String(err))) {
            const info = this.streams.get(job.segment.streamId);
            if (info) await this.send({ kind: 'stream', info }).catch(() => {});
          }
          await this.sleep(retryDelayMs(this.opts.retry, attempt));
        }
      }
      if (this.queue[0] === job) this.queue.shift();
    }
  }

  private send(job: Job): Promise<void> {
    return this.bases.call((base) => this.sendTo(base, job));
  }

  private async sendTo(base: string, job: Job): Promise<void> {
    if (job.kind === 'stream') {
      const { id, ...body } = job.info;
      await callJson(`${base}/api/v1/streams/${encodeURIComponent(id)}`, {
        method: 'PUT',
        body,
        secret: this.opts.secret,
        timeoutMs: this.opts.timeoutMs,
      });
    } else {
      const s = job.segment;
      await callJson(`${base}/api/v1/streams/${encodeURIComponent(s.streamId)}/segments`, {
        method: 'POST',
        body: s,
        secret: this.opts.secret,
        timeoutMs: this.opts.timeoutMs,
      });
    }
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
  }
}
