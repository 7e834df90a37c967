/**
 * The coordinator's own URL as viewers reach it, normalised here once: the steering URI in every master
 * playlist and the RELOAD-URI in every steering manifest start with it (docs/architecture.md, "URLs").
 */

/** A Host header safe to echo into a URL: name or address, optional port. */
const HOST_RE = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(:\d{1,5})?$/;

/** A wildcard bind is not an address a viewer can use; loopback is advertised instead. */
export function advertisedUrl(bound: string): string {
  return bound.replace('//0.0.0.0:', '//127.0.0.1:').replace('//[::]:', '//127.0.0.1:');
}

/**
 * The base URL a viewer reached us by: the configured one (already checked and trimmed by the config
 * loader), else the request's Host (so a viewer on another machine gets a steering URI it can reach),
 * else the bound address. `tls`: the request came over HTTPS.
 */
export function publicBaseUrl(
  configured: string,
  host: string | undefined,
  bound: string,
  tls = false,
): string {
  if (configured) return configured;
  return host && HOST_RE.test(host) ? `${tls ? 'https' : 'http'}://${host}` : bound;
}
