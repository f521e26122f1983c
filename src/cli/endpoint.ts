/**
 * Socket addresses on the command line, as websocat writes them:
 * `tcp:HOST:PORT`, `tcp:[IPv6]:PORT`, `tcp:PORT` (host 127.0.0.1) and
 * `unix:PATH`. Used by `serve --forward` (where to connect) and
 * `connect --listen` (where to listen).
 */
import { connect, type Socket } from 'node:net';
import { UsageError } from './args.js';

/** A TCP address or a Unix socket path. */
export type Endpoint =
  | { readonly kind: 'tcp'; readonly host: string; readonly port: number }
  | { readonly kind: 'unix'; readonly path: string };

/** Host of `tcp:PORT`: the loopback interface, so nothing is exposed by accident. */
export const DEFAULT_ENDPOINT_HOST = '127.0.0.1';

/**
 * Parses `tcp:[HOST:]PORT` or `unix:PATH`. `allowAnyPort` admits port 0
 * (a listener that picks a free port); a target needs a real port.
 * Throws a UsageError naming `option` for anything else.
 */
export function parseEndpoint(text: string, option: string, allowAnyPort = false): Endpoint {
  const bad = (why: string): UsageError =>
    new UsageError(
      `${option}: "${text}" ${why} (examples: tcp:127.0.0.1:22, tcp:8022, unix:/run/app.sock)`,
    );
  if (text.startsWith('unix:')) {
    const path = text.slice('unix:'.length);
    if (path === '') throw bad('has no socket path');
    if (path.includes('\0')) throw bad('has a NUL in its path');
    return { kind: 'unix', path };
  }
  if (!text.startsWith('tcp:')) throw bad('is not tcp:HOST:PORT or unix:PATH');
  const rest = text.slice('tcp:'.length);
  let host = DEFAULT_ENDPOINT_HOST;
  let portText = rest;
  const bracketed = /^\[([0-9a-fA-F:.]+(?:%[\w.-]+)?)\]:(.*)$/.exec(rest);
  if (bracketed !== null) {
    host = bracketed[1]!;
    portText = bracketed[2]!;
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0) {
      host = rest.slice(0, colon);
      portText = rest.slice(colon + 1);
      // An IPv6 address needs brackets, or its last group would read as the port.
      if (host.includes(':')) throw bad('has an IPv6 address without [brackets]');
      if (host === '') throw bad('has an empty host');
    }
  }
  const port = Number(portText);
  if (!/^\d{1,5}$/.test(portText) || port > 65535 || (port === 0 && !allowAnyPort)) {
    throw bad(`has no valid port${allowAnyPort ? ' (0-65535)' : ' (1-65535)'}`);
  }
  return { kind: 'tcp', host, port };
}

/** `tcp:127.0.0.1:22`, `tcp:[::1]:22` or `unix:/run/app.sock`. */
export function formatEndpoint(endpoint: Endpoint): string {
  if (endpoint.kind === 'unix') return `unix:${endpoint.path}`;
  const host = endpoint.host.includes(':') ? `[${endpoint.host}]` : endpoint.host;
  return `tcp:${host}:${endpoint.port}`;
}

/**
 * Opens a connection to `endpoint`. Half-open is allowed: the target's FIN
 * does not end our side, so what is still on its way to the target gets
 * there (the tunnel ends the socket itself).
 */
export function connectEndpoint(endpoint: Endpoint): Socket {
  return endpoint.kind === 'unix'
    ? connect({ path: endpoint.path, allowHalfOpen: true })
    : connect({ host: endpoint.host, port: endpoint.port, allowHalfOpen: true });
}
