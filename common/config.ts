/**
 * Configuration: defaults, then `RINGCAST_*` environment, then flags, then one validation pass that
 * names every bad key at once, then a frozen object. Each part declares its keys as a ConfigSpec.
 */

export type ConfigType = 'string' | 'int' | 'number' | 'bool' | 'url' | 'urls' | 'list';

export interface ConfigKey<T = unknown> {
  type: ConfigType;
  default: T;
  /** One line for `--help` and the docs. */
  doc: string;
  /** Allowed values (strings). */
  choices?: readonly string[];
  min?: number;
  max?: number;
  /** Extra check: returns a message when the value is bad. */
  check?: (value: T) => string | undefined;
}

export type ConfigSpec = Record<string, ConfigKey>;

type ValueOf<K extends ConfigKey> = K['type'] extends 'int' | 'number'
  ? number
  : K['type'] extends 'bool'
    ? boolean
    : K['type'] extends 'list' | 'urls'
      ? string[]
      : string;

export type ConfigOf<S extends ConfigSpec> = { readonly [P in keyof S]: ValueOf<S[P]> };

/** Thrown when any key is bad; the message lists every one. */
export class ConfigError extends Error {
  readonly problems: string[];
  constructor(problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
    this.name = 'ConfigError';
    this.problems = problems;
  }
}

/** `listenPort` → `--listen-port`. */
export function flagName(key: string): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * `listenPort` → `RINGCAST_LISTEN_PORT`; with a part, `RINGCAST_RELAY_LISTEN_PORT`: that one applies to
 * that part only and wins over the shared name.
 */
export function envName(key: string, part?: string): string {
  const snake = key.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
  return part ? `RINGCAST_${part.toUpperCase()}_${snake}` : `RINGCAST_${snake}`;
}

function parseFlags(argv: readonly string[], spec: ConfigSpec, problems: string[]): Map<string, string> {
  const byFlag = new Map(Object.keys(spec).map((k) => [flagName(k), k]));
  const out = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = byFlag.get(flag);
    if (!key) {
      problems.push(`unknown option '${flag}'`);
      // Skip the unknown option's value so it is not reported as a second problem.
      if (eq < 0 && argv[i + 1] !== undefined && !argv[i + 1]!.startsWith('--')) i++;
      continue;
    }
    if (eq > 0) out.set(key, arg.slice(eq + 1));
    else if (spec[key]!.type === 'bool' && (argv[i + 1] === undefined || argv[i + 1]!.startsWith('--'))) {
      out.set(key, 'true');
    } else if (argv[i + 1] === undefined) problems.push(`'${flag}' needs a value`);
    else out.set(key, argv[++i]!);
  }
  return out;
}

/** Is `raw` an absolute http(s) URL? */
export function isHttpUrl(raw: string): boolean {
  try {
    const u = new URL(raw);
    return u.protocol === 'http:' || u.protocol === 'https:';
  } catch {
    return false;
  }
}

/** `'a, b,,c'` → `['a', 'b', 'c']`: a comma-separated value, items trimmed, empty ones dropped. */
export function splitList(raw: string): string[] {
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

const trimSlashes = (url: string) => url.replace(/\/+$/, '');

/** The value of a `raw` string, or a reason (after the key's name) why it is not one. */
type Converted = { value: unknown } | { why: string };

/** One converter per type; each reads one raw string (docs/architecture.md, "URLs": normalised once). */
const CONVERTERS: Record<ConfigType, (raw: string, def: ConfigKey) => Converted> = {
  int: toNumber,
  number: toNumber,
  bool: (raw) => {
    if (['true', '1', 'yes', 'on'].includes(raw)) return { value: true };
    if (['false', '0', 'no', 'off'].includes(raw)) return { value: false };
    return { why: `must be true or false (got '${raw}')` };
  },
  url: (raw, def) => {
    // Trimmed here, once: ' http://x/ ' from an environment file is 'http://x' for every reader.
    const text = raw.trim();
    // A URL key whose default is '' (publicUrl: "from the bound address") may be set back to ''.
    if (text === '' && def.default === '') return { value: '' };
    return isHttpUrl(text) ? { value: trimSlashes(text) } : { why: `must be an http(s) URL (got '${raw}')` };
  },
  urls: (raw) => {
    // Comma-separated http(s) URLs, e.g. every coordinator behind which a part may fail over.
    const urls = splitList(raw);
    const bad = urls.filter((u) => !isHttpUrl(u));
    if (bad.length > 0)
      return { why: `must be http(s) URLs separated by commas (bad: '${bad.join("', '")}')` };
    return { value: urls.map(trimSlashes) };
  },
  list: (raw) => ({ value: splitList(raw) }),
  string: (raw) => ({ value: raw }),
};

function toNumber(raw: string, def: ConfigKey): Converted {
  const n = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(n) || (def.type === 'int' && !Number.isInteger(n)))
    return { why: `must be ${def.type === 'int' ? 'a whole number' : 'a number'} (got '${raw}')` };
  return { value: n };
}

/** Converts one raw value of `key`; a bad one adds a problem and gives undefined. */
export function convert(key: string, def: ConfigKey, raw: string, problems: string[]): unknown {
  const out = (CONVERTERS[def.type] ?? CONVERTERS.string)(raw, def);
  if ('why' in out) {
    problems.push(`'${key}' ${out.why}`);
    return undefined;
  }
  return out.value;
}

function validate(key: string, def: ConfigKey, value: unknown, problems: string[]): void {
  if (typeof value === 'number') {
    if (def.min !== undefined && value < def.min)
      problems.push(`'${key}' must be at least ${def.min} (got ${value})`);
    if (def.max !== undefined && value > def.max)
      problems.push(`'${key}' must be at most ${def.max} (got ${value})`);
  }
  if (def.choices && !def.choices.includes(String(value))) {
    problems.push(`'${key}' must be one of ${def.choices.join(', ')} (got '${value}')`);
  }
  const msg = def.check?.(value as never);
  if (msg) problems.push(`'${key}' ${msg}`);
}

/**
 * Loads a config from defaults, environment (`RINGCAST_KEY`, then `RINGCAST_<PART>_KEY` when `part` is
 * given) and flags; throws ConfigError naming every bad key.
 */
export function loadConfig<S extends ConfigSpec>(
  spec: S,
  argv: readonly string[] = [],
  env: NodeJS.ProcessEnv = process.env,
  overrides: Partial<Record<keyof S, unknown>> = {},
  part?: string,
): ConfigOf<S> {
  const problems: string[] = [];
  const flags = parseFlags(argv, spec, problems);
  const out: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(spec)) {
    let value: unknown = def.default;
    // The part's own variable, else the shared one: only the one that applies is read.
    const own = part ? env[envName(key, part)] : undefined;
    const fromEnv = own !== undefined && own !== '' ? own : env[envName(key)];
    if (fromEnv !== undefined && fromEnv !== '') value = convert(key, def, fromEnv, problems);
    if (flags.has(key)) value = convert(key, def, flags.get(key)!, problems);
    if (key in overrides && overrides[key] !== undefined) {
      value = overrides[key];
      // A list given as one string (`'http://a,http://b'`) is read as a flag would be; so is a URL, so
      // every URL is normalised here, once, whoever builds the config.
      if (typeof value === 'string' && (def.type === 'urls' || def.type === 'list' || def.type === 'url'))
        value = convert(key, def, value, problems);
    }
    if (value !== undefined) validate(key, def, value, problems);
    out[key] = value;
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(out) as ConfigOf<S>;
}

/** `--help` text for a spec (with a part, its own variable names: the shared ones work too). */
export function describeConfig(spec: ConfigSpec, part?: string): string {
  return Object.entries(spec)
    .map(
      ([k, d]) =>
        `  ${flagName(k).padEnd(26)} ${envName(k, part).padEnd(40)} ${d.doc} (default: ${JSON.stringify(d.default)})`,
    )
    .join('\n');
}

/**
 * A part's one config loader: loadConfig, then the part's checks that span keys (one message per
 * problem), thrown as one ConfigError. `argv`, `env` and `overrides` as for loadConfig.
 */
export function checkedLoader<S extends ConfigSpec>(
  spec: S,
  part: string,
  crossCheck: (config: ConfigOf<S>) => string[],
): (
  argv?: readonly string[],
  env?: NodeJS.ProcessEnv,
  overrides?: Partial<Record<keyof S, unknown>>,
) => ConfigOf<S> {
  return (argv = [], env = process.env, overrides = {}) => {
    const config = loadConfig(spec, argv, env, overrides, part);
    const problems = crossCheck(config);
    if (problems.length > 0) throw new ConfigError(problems);
    return config;
  };
}
