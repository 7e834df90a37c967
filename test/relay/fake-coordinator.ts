/** A fake coordinator for relay tests: records calls, answers registration, streams SSE events. */
import { createServer, type ServerResponse } from 'node:http';
import { closeServer, listen, readJsonBody } from '../../common/http.ts';
import { openSse, writeSse } from '../../common/sse.ts';
import type { RelayInfo, StreamInfo } from '../../common/types.ts';

export interface Call {
  method: string;
  path: string;
  auth: string | undefined;
  body: unknown;
}

export class FakeCoordinator {
  readonly calls: Call[] = [];
  readonly relays = new Map<string, RelayInfo>();
  readonly streams: StreamInfo[] = [];
  url = '';
  version = 1;
  /** When set, heartbeats answer 404 (as a restarted coordinator does). */
  forget = false;
  private readonly sse = new Set<ServerResponse>();
  private readonly server = createServer(async (req, res) => {
    const path = req.url ?? '/';
    const body = req.method === 'POST' ? await readJsonBody(req) : undefined;
    this.calls.push({ method: req.method ?? '', path, auth: req.headers.authorization, body });
    const json = (status: number, value: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
    };
    if (path === '/api/v1/events') {
      openSse(res);
      this.sse.add(res);
      res.on('close', () => this.sse.delete(res));
      writeSse(res, 'snapshot', { ring: this.ring(), streams: this.streams });
    } else if (req.method === 'POST' && path === '/api/v1/relays') {
      const r = body as RelayInfo;
      this.relays.set(r.id, { ...r, capacity: r.capacity ?? 1, state: 'active' });
      this.version++;
      json(200, { relay: this.relays.get(r.id), ring: this.ring(), heartbeatIntervalMs: 1000 });
    } else if (path.endsWith('/heartbeat')) {
      if (this.forget) json(404, { error: { code: 'RC_RELAY_NOT_FOUND', message: 'gone' } });
      else json(200, { ringVersion: this.version });
    } else if (path.endsWith('/drain')) json(200, { relay: {} });
    else if (req.method === 'DELETE') json(200, { ok: true });
    else json(404, { error: { code: 'RC_NOT_FOUND', message: 'no' } });
  });

  async start(): Promise<this> {
    this.url = await listen(this.server, 0);
    return this;
  }

  ring() {
    return { version: this.version, relays: [...this.relays.values()] };
  }

  send(event: string, data: unknown): void {
    for (const res of this.sse) writeSse(res, event, data);
  }

  /** Ends every event stream (as a coordinator restart would). */
  dropStreams(): void {
    for (const res of this.sse) res.destroy();
  }

  count(method: string, pathEnd: string): number {
    return this.calls.filter((c) => c.method === method && c.path.endsWith(pathEnd)).length;
  }

  async close(): Promise<void> {
    this.dropStreams();
    this.server.closeAllConnections();
    await closeServer(this.server);
  }
}
