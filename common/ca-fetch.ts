import { readFileSync } from 'node:fs';
import type { IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request } from 'node:https';
import { Readable } from 'node:stream';

/**
 * The links of a part to the rest of its cluster over https with the cluster's own CA (`--tls-ca FILE`):
 * an https agent for `http.request`-style callers, and a `fetch` for the others (Node 20's fetch takes no
 * CA of its own and its undici is not exposed). Plain http URLs go to the global `fetch` unchanged.
 * Built with the part (no I/O); `load()` reads the file when the part starts.
 */
export class ClusterTls {
  private httpsAgent: HttpsAgent | undefined;

  constructor(private readonly caFile: string) {}

  /** Reads the CA (PEM; several certificates may follow each other); throws naming the file and the problem. */
  load(): void {
    let ca: Buffer;
    try {
      ca = readFileSync(this.caFile);
    } catch (err) {
      throw new Error(
        `cannot read the cluster CA ${this.caFile}: ${(err as NodeJS.ErrnoException).code ?? err}`,
      );
    }
    if (!ca.includes('-----BEGIN CERTIFICATE-----'))
      throw new Error(`the cluster CA ${this.caFile} is not PEM`);
    this.httpsAgent?.destroy();
    this.httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 256, ca });
  }

  /** The agent for https requests, trusting the cluster's CA only. */
  get agent(): HttpsAgent {
    if (!this.httpsAgent) throw new Error(`the cluster CA ${this.caFile} is not loaded yet`);
    return this.httpsAgent;
  }

  /** A `fetch` whose https requests go through `agent`; enough for JSON calls and event streams. */
  readonly fetch: typeof fetch = (input, init) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (url.protocol !== 'https:') return fetch(input, init);
    return httpsFetch(url, this.agent, init);
  };

  destroy(): void {
    this.httpsAgent?.destroy();
  }
}

function httpsFetch(url: URL, agent: HttpsAgent, init: RequestInit | undefined): Promise<Response> {
  return new Promise<Response>((resolve, reject) => {
    const req = request(url, {
      agent,
      method: init?.method ?? 'GET',
      headers: init?.headers as Record<string, string> | undefined,
      signal: init?.signal ?? undefined,
    });
    req.on('error', reject);
    req.on('response', (res) => {
      const empty = res.statusCode === 204 || res.statusCode === 304 || init?.method === 'HEAD';
      const body = empty ? null : (Readable.toWeb(res) as ReadableStream<Uint8Array>);
      resolve(new Response(body, { status: res.statusCode, headers: webHeaders(res.headers) }));
    });
    req.end(init?.body as string | undefined);
  });
}

function webHeaders(headers: IncomingHttpHeaders): Headers {
  const out = new Headers();
  for (const [name, value] of Object.entries(headers)) {
    if (Array.isArray(value)) for (const v of value) out.append(name, v);
    else if (value !== undefined) out.set(name, value);
  }
  return out;
}
