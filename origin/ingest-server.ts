import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { closeServer, listen } from '../common/http.ts';
import type { Logger } from '../common/log.ts';

/** Receives one rendition's fMP4 upload of one transcoder run. */
export interface UploadSink {
  data(chunk: Buffer): void;
  end(): void;
}

/** Finds the sink for `/ingest/<runId>/<rendition>`; undefined refuses the upload (stale or unknown run). */
export type UploadRouter = (runId: string, rendition: string) => UploadSink | undefined;

const PATH_RE = /^\/ingest\/([0-9a-f]{16})\/([A-Za-z0-9_-]{1,64})$/;

/**
 * The internal HTTP server ffmpeg PUTs its fMP4 outputs to (chunked, one long request per rendition).
 * Bound to 127.0.0.1 on an OS-chosen port, apart from the public server; run ids are unguessable.
 */
export class IngestServer {
  private readonly log: Logger;
  private readonly route: UploadRouter;
  private server: Server | undefined;
  private url = '';

  constructor(log: Logger, route: UploadRouter) {
    this.log = log;
    this.route = route;
  }

  /** Listens on 127.0.0.1:0; resolves with the base URL. */
  async start(): Promise<string> {
    if (this.server) return this.url;
    // Uploads last as long as the stream: no request or header timeouts.
    this.server = createServer({ requestTimeout: 0, headersTimeout: 10_000 }, (req, res) =>
      this.handle(req, res),
    );
    this.server.keepAliveTimeout = 1000;
    this.url = await listen(this.server, 0, '127.0.0.1');
    return this.url;
  }

  get baseUrl(): string {
    return this.url;
  }

  async close(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await closeServer(this.server);
    this.server = undefined;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const m = PATH_RE.exec(req.url ?? '');
    const sink = req.method === 'PUT' || req.method === 'POST' ? m && this.route(m[1]!, m[2]!) : undefined;
    if (!sink) {
      this.log.warn({ url: req.url, method: req.method }, 'ingest upload refused');
      res.writeHead(404).end();
      req.resume();
      return;
    }
    let ended = false;
    const finish = () => {
      if (ended) return;
      ended = true;
      sink.end();
    };
    req.on('data', (chunk: Buffer) => sink.data(chunk));
    req.once('end', () => {
      finish();
      res.writeHead(204).end();
    });
    // A killed ffmpeg drops the connection without a final chunk.
    req.once('close', finish);
  }
}
