/**
 * The proxy environment variables, as curl and undici read them:
 * `https_proxy` / `HTTPS_PROXY` for wss:, `http_proxy` / `HTTP_PROXY` for
 * ws:, `no_proxy` / `NO_PROXY` for the exceptions; the lowercase name wins
 * when both are set.
 */
import { parseProxyUrl, type ProxySetting } from '../streams/proxy-option.js';

/** The environment as process.env gives it. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** The value of a variable, the lowercase spelling first (curl, undici); an empty value counts as set. */
function lookup(env: Environment, name: string): string | undefined {
  return env[name.toLowerCase()] ?? env[name.toUpperCase()];
}

/** The default port of a ws: or wss: URL. */
export function portOf(url: URL): number {
  return url.port !== '' ? Number(url.port) : url.protocol === 'wss:' ? 443 : 80;
}

function bare(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/**
 * `host` (without brackets) as a URL writes an IP address (IPv4 dotted,
 * IPv6 compressed), or null if it is not one: a name.
 */
function ipAddress(host: string): string | null {
  const v6 = host.includes(':');
  if (!v6 && !/^[\d.]+$/.test(host)) return null;
  try {
    return bare(new URL(`http://${v6 ? `[${host}]` : host}/`).hostname);
  } catch {
    return null;
  }
}

/** One NO_PROXY entry: a host name or suffix, and optionally a port. */
interface NoProxyEntry {
  /** Lowercase, without brackets; a leading "." means "subdomains only". */
  readonly host: string;
  /** 0 for any port. */
  readonly port: number;
}

/**
 * Parses a NO_PROXY value: entries separated by commas or whitespace, each a
 * host name (`example.com`: the host and its subdomains), a domain suffix
 * (`.example.com` or `*.example.com`: subdomains only), an IP address
 * (`127.0.0.1`, `::1`, `[::1]`), any of them with `:port`; `*` alone matches
 * every host. Returns `'*'` or the list of entries.
 */
export function parseNoProxy(value: string): '*' | NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    let item = raw.toLowerCase();
    if (item === '') continue;
    if (item === '*') return '*';
    let port = 0;
    const bracketed = /^\[([^\]]*)\](?::(\d+))?$/.exec(item);
    if (bracketed !== null) {
      item = bracketed[1]!;
      port = bracketed[2] === undefined ? 0 : Number(bracketed[2]);
    } else {
      // One colon: host:port. More: an IPv6 address without brackets.
      const withPort = /^([^:]+):(\d+)$/.exec(item);
      if (withPort !== null) {
        item = withPort[1]!;
        port = Number(withPort[2]);
      }
    }
    if (item.startsWith('*.')) item = item.slice(1);
    // A trailing dot names the same host (fully qualified form).
    if (item.endsWith('.') && item.length > 1) item = item.slice(0, -1);
    if (item === '' || item === '.') continue;
    entries.push({ host: item, port });
  }
  return entries;
}

/**
 * Whether NO_PROXY exempts a host and port from the proxy. `host` is a URL's
 * hostname (IPv6 with or without brackets), `port` the effective port.
 */
export function isExempt(noProxy: string, host: string, port: number): boolean {
  const entries = parseNoProxy(noProxy);
  if (entries === '*') return true;
  let name = bare(host).toLowerCase();
  if (name.endsWith('.')) name = name.slice(0, -1);
  // An IP address matches an entry that is the same address, never a suffix
  // (as curl: "0.0.1" does not exempt 127.0.0.1).
  const ip = ipAddress(name);
  for (const entry of entries) {
    if (entry.port !== 0 && entry.port !== port) continue;
    if (ip !== null) {
      if (ipAddress(entry.host) === ip) return true;
    } else if (entry.host.startsWith('.')) {
      if (name.endsWith(entry.host)) return true;
    } else if (name === entry.host || name.endsWith(`.${entry.host}`)) {
      return true;
    }
  }
  return false;
}

/**
 * The proxy for `url` according to the environment, or null for a direct
 * connection: `https_proxy`/`HTTPS_PROXY` for wss:, `http_proxy`/`HTTP_PROXY`
 * for ws: (no fallback from one to the other, as curl), unless
 * `no_proxy`/`NO_PROXY` exempts the host. Throws a SyntaxError naming the
 * variable when its value is not a proxy URL.
 */
export function proxyFromEnvironment(url: URL, env: Environment): URL | null {
  const name = url.protocol === 'wss:' ? 'https_proxy' : 'http_proxy';
  const value = lookup(env, name);
  if (value === undefined || value.trim() === '') return null;
  const noProxy = lookup(env, 'no_proxy');
  if (noProxy !== undefined && isExempt(noProxy, url.hostname, portOf(url))) return null;
  const which = env[name] !== undefined ? name : name.toUpperCase();
  return parseProxyUrl(value, `${which} proxy`);
}

/**
 * The proxy to use for `url`, or null: the `proxy` option, else (option left
 * out) the environment when Node's own NODE_USE_ENV_PROXY is 1.
 */
export function chooseProxy(url: URL, setting: ProxySetting, env: Environment): URL | null {
  switch (setting.kind) {
    case 'url':
      return setting.url;
    case 'none':
      return null;
    case 'env':
      return proxyFromEnvironment(url, env);
    case 'default': {
      // A runtime may deny access to the environment (Deno without --allow-env):
      // then the default is what it is without the variable, a direct connection.
      let flag: string | undefined;
      try {
        flag = env.NODE_USE_ENV_PROXY;
      } catch {
        return null;
      }
      return flag === '1' ? proxyFromEnvironment(url, env) : null;
    }
  }
}
