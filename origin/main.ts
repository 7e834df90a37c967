/** `ringcast origin`: config, an Origin, signals. Wiring only. */
import { runPart } from '../common/cli.ts';
import { Origin } from './app.ts';
import { loadOriginConfig, ORIGIN_CONFIG } from './config.ts';

export function runOrigin(argv: string[]): Promise<void> {
  return runPart({
    part: 'origin',
    spec: ORIGIN_CONFIG,
    argv,
    load: loadOriginConfig,
    create: (config, log) => new Origin(config, { log }),
  });
}
