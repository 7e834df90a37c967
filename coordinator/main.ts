/** `ringcast coordinator`: config, a Coordinator, signals. Wiring only. */
import { runPart } from '../common/cli.ts';
import { loadConfig } from '../common/config.ts';
import { Coordinator } from './app.ts';
import { COORDINATOR_CONFIG } from './config.ts';

export function runCoordinator(argv: string[]): Promise<void> {
  return runPart({
    part: 'coordinator',
    spec: COORDINATOR_CONFIG,
    argv,
    load: (a) => loadConfig(COORDINATOR_CONFIG, a, process.env, {}, 'coordinator'),
    create: (config, log) => new Coordinator(config, { log }),
  });
}
