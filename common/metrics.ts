import type { ServerResponse } from 'node:http';
import { collectDefaultMetrics, Registry } from 'prom-client';

/** A Prometheus registry for one part, with the process metrics prefixed `ringcast_<part>_`. */
export function createRegistry(part: string): Registry {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: `ringcast_${part}_` });
  return registry;
}

/** Answers `/metrics` in the Prometheus text format. */
export async function sendMetrics(res: ServerResponse, registry: Registry): Promise<void> {
  const body = await registry.metrics();
  res.writeHead(200, { 'content-type': registry.contentType, 'cache-control': 'no-store' });
  res.end(body);
}
