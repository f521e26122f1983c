/**
 * `connect URL --listen ADDR`: a local listener (`tcp:[HOST:]PORT` or
 * `unix:PATH`); every connection accepted there gets its own WebSocket
 * connection to URL, bridged by a {@link Tunnel} (websocat's
 * `tcp-l:ADDR ws://URL`). Runs until SIGINT or SIGTERM.
 */
import { createServer, type Server, type Socket } from 'node:net';
import type { WebSocketStreamOptions } from '../index.js';
import { WebSocketStream } from '../index.js';
import { UsageError } from './args.js';
import type { Stdio } from './connect.js';
import { RefusalLog } from './connection-cap.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { describeClose, describeError, ExitCode } from './exit-codes.js';
import { reset, Tunnel } from './tunnel.js';
import { shownUrl, writeDiagnostic } from './escape.js';

/** Close reason sent to every open tunnel when the listener is stopped (SIGINT, SIGTERM). */
const SHUTDOWN_REASON = 'shutting down';

/**
 * Milliseconds a shutdown waits for the open tunnels to end cleanly before it
 * resets what is left: 5 s (as `serve`'s shutdown waits for its clients).
 */
export const SHUTDOWN_WAIT = 5_000;

/**
 * Throws a UsageError if `url` or `options` (subprotocols, headers) would be
 * refused by every connection, before anything listens.
 */
function validate(url: string, options: WebSocketStreamOptions): void {
  try {
    // An aborted signal: the constructor checks its arguments and then attempts nothing.
    const probe = new WebSocketStream(url, { ...options, signal: AbortSignal.abort() });
    probe.closed.catch(() => {});
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
}

function listen(server: Server, at: Endpoint): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    const done = (): void => {
      server.off('error', reject);
      resolve();
    };
    if (at.kind === 'unix') server.listen(at.path, done);
    else server.listen(at.port, at.host, done);
  });
}

/** The bound address, with the port a `tcp:HOST:0` listener was given. */
function boundAddress(server: Server, at: Endpoint): string {
  const address = server.address();
  if (at.kind === 'tcp' && address !== null && typeof address === 'object') {
    return formatEndpoint({ kind: 'tcp', host: address.address, port: address.port });
  }
  return formatEndpoint(at);
}

function peerName(socket: Socket, at: Endpoint): string {
  if (at.kind === 'unix') return 'unix peer';
  const host = socket.remoteAddress ?? '?';
  return `${host.includes(':') ? `[${host}]` : host}:${socket.remotePort ?? '?'}`;
}

/**
 * Listens at `at` and tunnels every connection to `url` with `options`, at
 * most `maxConnections` at once (more are closed as soon as they are
 * accepted); resolves with the exit code after SIGINT, SIGTERM or SIGHUP (0), or if listening
 * failed (1).
 */
export async function listenCommand(
  url: string,
  options: WebSocketStreamOptions,
  at: Endpoint,
  maxConnections: number,
  stdio: Stdio,
): Promise<number> {
  validate(url, options);
  const log = (line: string): void => {
    writeDiagnostic(stdio.stderr, line);
  };
  const open = new Map<WebSocketStream, Tunnel>();
  const server = createServer({ allowHalfOpen: true, pauseOnConnect: true }, (socket) => {
    const who = peerName(socket, at);
    let ws: WebSocketStream;
    try {
      ws = new WebSocketStream(url, options);
    } catch (error) {
      log(`${who}: ${describeError(error)}`);
      reset(socket);
      return;
    }
    log(`+ ${who}`);
    const tunnel = new Tunnel(socket, ws, { name: 'client', log: (line) => log(`${who} ${line}`) });
    open.set(ws, tunnel);
    ws.closed.then(
      (info) => log(`- ${who} ${describeClose(info)}`),
      (error: unknown) => log(`- ${who} ${describeError(error)}`),
    );
    void tunnel.done.then(() => open.delete(ws));
  });
  // Over the limit node:net closes a new connection as soon as it is accepted (the
  // client sees its FIN before any byte) and emits 'drop': the same on Node 20 to 26.
  // Closing at once, rather than leaving it in the backlog, tells the client
  // now instead of after its connect timeout. A slot frees when a local socket closes.
  server.maxConnections = maxConnections;
  const refusals = new RefusalLog(maxConnections, log);
  server.on('drop', () => refusals.refused());

  try {
    await listen(server, at);
  } catch (error) {
    log(`cannot listen on ${formatEndpoint(at)}: ${describeError(error)}`);
    return ExitCode.ERROR;
  }
  log(`listening on ${boundAddress(server, at)}, tunnelling to ${shownUrl(url)}`);

  let interrupted = false;
  await new Promise<void>((resolve) => {
    const onSignal = (): void => {
      if (interrupted) {
        log('interrupted');
        process.exit(ExitCode.INTERRUPTED);
      }
      interrupted = true;
      resolve();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A closed terminal (or ssh's end): the same clean shutdown as connect's and serve's, so
    // that the tunnels get their Close and a Unix socket's file is removed.
    process.on('SIGHUP', onSignal);
  });
  log('shutting down');
  refusals.flush();
  // Stops accepting (and removes a Unix socket's file); open tunnels end with a Close 1000.
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  const tunnels = [...open.entries()];
  for (const [ws] of tunnels) ws.close({ closeCode: 1000, reason: SHUTDOWN_REASON });
  // A referenced timer: it bounds the wait and keeps the process alive meanwhile (a socket's
  // idle timeout, which ends a lingering tunnel, does not).
  let timer: ReturnType<typeof setTimeout> | undefined;
  await Promise.race([
    Promise.all(tunnels.map(([, t]) => t.done)),
    new Promise((resolve) => (timer = setTimeout(resolve, SHUTDOWN_WAIT))),
  ]);
  clearTimeout(timer);
  for (const [, t] of open) t.abort();
  await closed;
  return ExitCode.OK;
}
