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

/** An IP address as its bytes: 4 for IPv4, 16 for IPv6. */
function addressBytes(ip: string): number[] {
  if (!ip.includes(':')) return ip.split('.').map(Number);
  // URL writes IPv6 as hexadecimal groups with at most one "::", never with
  // a dotted IPv4 tail, so this is all there is to expand.
  const [head = '', tail] = ip.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  return groups.flatMap((group) => {
    const value = parseInt(group, 16);
    return [value >> 8, value & 0xff];
  });
}

/**
 * Whether a CIDR entry (`10.0.0.0/8`, `fd00::/8`) contains `ip`, an address as
 * ipAddress() writes it. An entry that is not a CIDR range contains nothing.
 */
function inRange(entry: string, ip: string): boolean {
  const match = /^([^/]+)\/(0|[1-9]\d{0,2})$/.exec(entry);
  if (match === null) return false;
  const network = ipAddress(match[1]!);
  // The IPv4 network must be written out in full: URL would read "10/8" as
  // 0.0.0.10/8 and "010.0.0.0/8" as 8.0.0.0/8, which is not what was meant.
  if (network === null || (!network.includes(':') && network !== match[1])) return false;
  const want = addressBytes(network);
  const have = addressBytes(ip);
  let bits = Number(match[2]);
  // One family never matches the other: ::ffff:10.0.0.1 is not in 10.0.0.0/8,
  // as the address 10.0.0.1 does not exempt it either.
  if (want.length !== have.length || bits > want.length * 8) return false;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((want[i]! & mask) !== (have[i]! & mask)) return false;
  }
  return true;
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
 * (`127.0.0.1`, `::1`, `[::1]`), a CIDR range of addresses (`10.0.0.0/8`,
 * `fd00::/8`, `[fd00::]/8`), any of them with `:port`; `*` alone matches every
 * host. Returns `'*'` or the list of entries.
 */
export function parseNoProxy(value: string): '*' | NoProxyEntry[] {
  const entries: NoProxyEntry[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    let item = raw.toLowerCase();
    if (item === '') continue;
    if (item === '*') return '*';
    let port = 0;
    const bracketed = /^\[([^\]]*)\](\/[^:]*)?(?::(\d+))?$/.exec(item);
    if (bracketed !== null) {
      item = bracketed[1]! + (bracketed[2] ?? '');
      port = bracketed[3] === undefined ? 0 : Number(bracketed[3]);
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
  // An IP address matches an entry that is the same address or a range that
  // holds it, never a suffix (as curl: "0.0.1" does not exempt 127.0.0.1).
  const ip = ipAddress(name);
  for (const entry of entries) {
    if (entry.port !== 0 && entry.port !== port) continue;
    if (ip !== null) {
      if (entry.host.includes('/') ? inRange(entry.host, ip) : ipAddress(entry.host) === ip) {
        return true;
      }
    } else if (entry.host.includes('/')) {
      // A range holds addresses only: a name is not resolved to be looked for in it.
      continue;
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
