/** `ringcast relay`: loads config, starts a Relay, handles signals. Wiring only. */
import { ConfigError, describeConfig, loadConfig } from '../common/config.ts';
import { createLogger } from '../common/log.ts';
import { Relay } from './app.ts';
import { RELAY_CONFIG, type RelayConfig } from './config.ts';

export async function runRelay(argv: string[]): Promise<void> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ringcast relay [options]\n\n${describeConfig(RELAY_CONFIG)}\n`);
    return;
  }
  let config: RelayConfig;
  try {
    config = loadConfig(RELAY_CONFIG, argv);
    if (!config.coordinatorUrl) throw new ConfigError(["'coordinatorUrl' is required (--coordinator-url)"]);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`ringcast relay: ${err.message}\n`);
    process.exit(2);
  }
  const log = createLogger('ringcast-relay');
  const relay = new Relay(config, { log });
  let started: { url: string; id: string };
  try {
    started = await relay.start();
  } catch (err) {
    log.error({ err }, 'relay failed to start');
    await relay.close();
    process.exit(1);
  }
  const { url, id } = started;
  log.info({ part: 'relay', url, id }, 'listening');

  let stopping = false;
  const stop = async (signal: NodeJS.Signals, drain: boolean) => {
    if (stopping) {
      // A second signal means now.
      process.exit(1);
    }
    stopping = true;
    log.info({ signal }, drain ? 'draining' : 'stopping');
    try {
      if (drain) await relay.drain();
      await relay.close();
      process.exit(0);
    } catch (err) {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void stop('SIGTERM', true));
  process.on('SIGINT', () => void stop('SIGINT', false));
}
