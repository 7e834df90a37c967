import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Registry } from 'prom-client';
import { addHealthAndMetrics, controlApp, finishControlApp, handleWith } from '../common/control-app.ts';
import type { Logger } from '../common/log.ts';

/** What the relay's control routes read. */
export interface RelayControlDeps {
  health: () => Record<string, unknown>;
  registry: Registry;
  log: Logger;
}

/**
 * The relay's control routes (`/healthz`, `/metrics`) on express, as every part serves them
 * (common/control-app.ts, docs/architecture.md, "URLs"); anything else outside `/live/` is a JSON 404,
 * a known path with another method a 405. `/live/` never comes here: it is the relay's hot path.
 */
export function relayControlRoutes(
  deps: RelayControlDeps,
): (req: IncomingMessage, res: ServerResponse) => void {
  const app = controlApp({ pathsOnly: true });
  addHealthAndMetrics(app, { health: deps.health, registry: deps.registry });
  finishControlApp(app, deps.log);
  return handleWith(app);
}
