/** `ringcast origin`: loads config, starts an Origin, handles signals. Wiring only. */
import { ConfigError, describeConfig } from '../common/config.ts';
import { createLogger } from '../common/log.ts';
import { Origin } from './app.ts';
import { loadOriginConfig, ORIGIN_CONFIG, type OriginConfig } from './config.ts';

export async function runOrigin(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ringcast origin [options]\n\n${describeConfig(ORIGIN_CONFIG)}\n`);
    return;
  }
  let config: OriginConfig;
  try {
    config = loadOriginConfig(argv);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ringcast origin: ${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger('ringcast-origin');
  const origin = new Origin(config, { log });
  let urls: { url: string; rtmpUrl: string };
  try {
    urls = await origin.start();
  } catch (err) {
    log.error({ err }, 'origin failed to start');
    await origin.close().catch(() => {});
    process.exit(1);
  }
  const { url, rtmpUrl } = urls;
  log.info({ part: 'origin', url, rtmpUrl }, 'listening');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals) => {
    // A second signal means now.
    if (stopping) process.exit(1);
    stopping = true;
    log.info({ signal }, 'stopping');
    try {
      await origin.close();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM'));
  process.on('SIGINT', () => void stop('SIGINT'));
}
