/** `ringcast coordinator`: config, a Coordinator, signals. Wiring only. */
import { runPart } from '../common/cli.ts';
import { Coordinator } from './app.ts';
import { COORDINATOR_CONFIG, loadCoordinatorConfig } from './config.ts';

export function runCoordinator(argv: string[]): Promise<void> {
  return runPart({
    part: 'coordinator',
    spec: COORDINATOR_CONFIG,
    argv,
    load: (a) => loadCoordinatorConfig(a, process.env),
    create: (config, log) => new Coordinator(config, { log }),
  });
}
