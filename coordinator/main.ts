import { exitOnConfigError } from '../common/cli.ts';
import { createLogger } from '../common/log.ts';
import { Coordinator } from './app.ts';
import { COORDINATOR_CONFIG } from './config.ts';

/** `ringcast coordinator [options]`: loads config, starts, logs `listening`, stops on SIGINT/SIGTERM. */
export async function runCoordinator(argv: string[]): Promise<void> {
  const config = exitOnConfigError('coordinator', COORDINATOR_CONFIG, argv);
  const log = createLogger('ringcast-coordinator');
  const coordinator = new Coordinator(config, { log });
  const { url } = await coordinator.start();
  log.info({ part: 'coordinator', url }, 'listening');
  const stop = (signal: string) => {
    log.info({ signal }, 'stopping');
    void coordinator.close().then(() => process.exit(0));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}
