import type { ServerResponse } from 'node:http';
import { openSse, writeSse } from '../common/sse.ts';
import type { ClusterEventMap, ClusterEventType } from '../common/types.ts';

/** How often an idle stream gets a comment, so proxies and clients do not drop it. */
const KEEPALIVE_INTERVAL_MS = 15_000;

/** The SSE subscribers of `GET /api/v1/events`: a snapshot on connect, then every cluster event. */
export class EventHub {
  private readonly clients = new Set<ServerResponse>();
  private keepaliveTimer: NodeJS.Timeout | undefined;

  get clientCount(): number {
    return this.clients.size;
  }

  /** Opens the stream and writes the snapshot before any later event can reach this client. */
  add(res: ServerResponse, snapshot: ClusterEventMap['snapshot']): void {
    openSse(res);
    writeSse(res, 'snapshot', snapshot);
    this.clients.add(res);
    res.on('close', () => this.clients.delete(res));
    if (!this.keepaliveTimer) {
      this.keepaliveTimer = setInterval(() => this.keepalive(), KEEPALIVE_INTERVAL_MS);
      this.keepaliveTimer.unref();
    }
  }

  broadcast<T extends ClusterEventType>(type: T, data: ClusterEventMap[T]): void {
    for (const res of this.clients) writeSse(res, type, data);
  }

  /** Ends every stream (on close), so clients reconnect elsewhere instead of hanging. */
  closeAll(): void {
    clearInterval(this.keepaliveTimer);
    this.keepaliveTimer = undefined;
    for (const res of this.clients) res.end();
    this.clients.clear();
  }

  private keepalive(): void {
    for (const res of this.clients) res.write(`: keepalive ${Date.now()}\n\n`);
  }
}
