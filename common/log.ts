import { type Logger, pino } from 'pino';

export type { Logger };

/** Creates the root logger of a process; parts take children of it (`log.child({ component })`). */
export function createLogger(name: string, level = process.env.RINGCAST_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

/** A logger that drops everything, for tests that do not read logs. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
