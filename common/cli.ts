import { ConfigError, type ConfigOf, type ConfigSpec, describeConfig, loadConfig } from './config.ts';

/**
 * Loads a part's config from flags and environment for a `main`: `--help` prints the keys and exits 0;
 * a bad value prints one message naming every bad key and exits 2.
 */
export function exitOnConfigError<S extends ConfigSpec>(part: string, spec: S, argv: string[]): ConfigOf<S> {
  if (argv.includes('--help') || argv.includes('-h')) {
    process.stdout.write(`usage: ringcast ${part} [options]\n\n${describeConfig(spec)}\n`);
    process.exit(0);
  }
  try {
    return loadConfig(spec, argv);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`ringcast ${part}: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
}
