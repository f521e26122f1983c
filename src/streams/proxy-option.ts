/**
 * The `proxy` and `socketPath` options of WebSocketStream, checked when the
 * stream is constructed (the runtime's connector decides what to do with them).
 */

/** What the connector is asked to do about proxies. */
export type ProxySetting =
  /** Tunnel through this `http:` proxy. */
  | { readonly kind: 'url'; readonly url: URL }
  /** Read HTTPS_PROXY / HTTP_PROXY / NO_PROXY from the environment. */
  | { readonly kind: 'env' }
  /** Connect directly, whatever the environment says. */
  | { readonly kind: 'none' }
  /** The runtime's default (Node: the environment only when NODE_USE_ENV_PROXY=1). */
  | { readonly kind: 'default' };

/**
 * Parses a proxy URL: `http://[user:pass@]host[:port]` (port 80 when left
 * out), or `host:port` without a scheme, taken as `http:` as curl does.
 * Throws a SyntaxError (DOMException) for anything else; an `https:` proxy
 * (TLS to the proxy itself) is not supported and says so.
 */
export function parseProxyUrl(value: string, what = 'proxy'): URL {
  const text = value.trim();
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(text) ? text : `http://${text}`);
  } catch {
    throw new DOMException(
      `Invalid ${what} URL: ${JSON.stringify(redactText(value))}`,
      'SyntaxError',
    );
  }
  if (url.protocol === 'https:') {
    throw new DOMException(
      `Invalid ${what} URL ${redactProxyUrl(url)}: only http: proxies are supported (the tunnel to a wss: server is encrypted end to end all the same)`,
      'SyntaxError',
    );
  }
  if (url.protocol !== 'http:' || url.hostname === '') {
    throw new DOMException(
      `Invalid ${what} URL ${JSON.stringify(redactText(value))}: expected http://[user:password@]host[:port]`,
      'SyntaxError',
    );
  }
  try {
    // The credentials are sent decoded: a % that starts no escape cannot be.
    decodeURIComponent(url.username);
    decodeURIComponent(url.password);
  } catch {
    throw new DOMException(
      `Invalid ${what} URL ${redactProxyUrl(url)}: its user or password has a % that is not percent-encoding (write %25 for a %)`,
      'SyntaxError',
    );
  }
  return url;
}

/**
 * A proxy URL that did not parse, for messages: its credentials (what comes
 * before the last `@` of the authority) replaced by `***`.
 */
function redactText(value: string): string {
  return value.replace(/^(\s*(?:[a-z][a-z0-9+.-]*:\/\/)?)[^/?#]*@/i, '$1***@');
}

/** The proxy URL without its credentials, for messages: `http://host:port`. */
export function redactProxyUrl(url: URL): string {
  return `${url.protocol}//${url.host}`;
}

/**
 * Checks the `proxy` option: a URL (string or URL), `'env'`, `false` or
 * `null` (never a proxy), or undefined (the runtime's default).
 */
export function readProxyOption(value: unknown): ProxySetting {
  if (value === undefined) return { kind: 'default' };
  if (value === false || value === null) return { kind: 'none' };
  if (value === 'env') return { kind: 'env' };
  if (typeof value === 'string') return { kind: 'url', url: parseProxyUrl(value) };
  if (value instanceof URL) return { kind: 'url', url: parseProxyUrl(value.href) };
  throw new TypeError("proxy must be a URL, 'env', false or null");
}

/** Checks the `socketPath` option: a non-empty string, or undefined. */
export function readSocketPath(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || value === '')
    throw new TypeError('socketPath must be a non-empty string');
  return value;
}
