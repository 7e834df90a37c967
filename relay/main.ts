/** `ringcast relay`: config, a Relay, signals (SIGTERM drains first). Wiring only. */
import { runPart } from '../common/cli.ts';
import { ConfigError, loadConfig } from '../common/config.ts';
import { Relay } from './app.ts';
import { RELAY_CONFIG } from './config.ts';

export function runRelay(argv: string[]): Promise<void> {
  return runPart({
    part: 'relay',
    spec: RELAY_CONFIG,
    argv,
    load: (a) => {
      const config = loadConfig(RELAY_CONFIG, a, process.env, {}, 'relay');
      if (config.coordinatorUrl.length === 0)
        throw new ConfigError(["'coordinatorUrl' is required (--coordinator-url)"]);
      return config;
    },
    create: (config, log) => new Relay(config, { log }),
    drainOn: ['SIGTERM'],
  });
}
