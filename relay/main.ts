/** `ringcast relay`: config, a Relay, signals (SIGTERM drains first). Wiring only. */
import { runPart } from '../common/cli.ts';
import { Relay } from './app.ts';
import { loadRelayConfig, RELAY_CONFIG } from './config.ts';

export function runRelay(argv: string[]): Promise<void> {
  return runPart({
    part: 'relay',
    spec: RELAY_CONFIG,
    argv,
    load: loadRelayConfig,
    create: (config, log) => new Relay(config, { log }),
    drainOn: ['SIGTERM'],
  });
}
