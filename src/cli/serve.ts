/**
 * `wsstream serve`: a server that echoes, runs a command per connection
 * (`--exec`) or relays messages between clients (`--broadcast`).
 */
import cluster from 'node:cluster';
import { serve, type ServeOptions, type WebSocketConnection } from '../server.js';
import { toDuplex } from '../index.js';
import { flag, parseCommand, parsePositiveDuration, parseSize, str, UsageError } from './args.js';
import { CONNECTION_OPTIONS, readCertAndKey, readConnectionFlags } from './connection-flags.js';
import { MAX_CONNECTIONS_OPTION, readMaxConnections, RefusalLog } from './connection-cap.js';
import { Broadcast, DEFAULT_MAX_QUEUE } from './broadcast.js';
import { hubBroker, hubWorkers } from './hub-options.js';
import { primaryRequest, WORKER_PORT_ENV } from './hub-workers.js';
import type { Stdio } from './connect.js';
import { bridgeExec, DEFAULT_KILL_AFTER, type ExecProcess, stopAll } from './exec.js';
import { describeClose, describeError, ExitCode } from './exit-codes.js';
import { SERVE_HELP } from './help.js';
import { parseEndpoint, formatEndpoint } from './endpoint.js';
import { forwardConnection } from './forward.js';
import type { Tunnel } from './tunnel.js';
import { writeDiagnostic } from './escape.js';

const OPTIONS = {
  ...CONNECTION_OPTIONS,
  port: { type: 'string', short: 'p' },
  host: { type: 'string' },
  echo: { type: 'boolean' },
  exec: { type: 'string' },
  broadcast: { type: 'boolean' },
  forward: { type: 'string' },
  line: { type: 'boolean' },
  binary: { type: 'boolean' },
  'kill-after': { type: 'string' },
  'max-queue': { type: 'string' },
  slow: { type: 'string' },
  redis: { type: 'string' },
  'redis-cluster': { type: 'string' },
  workers: { type: 'string' },
  quiet: { type: 'boolean', short: 'q' },
  ...MAX_CONNECTIONS_OPTION,
} as const;

/** Runs `serve` until SIGINT or SIGTERM; resolves with the exit code. */
export async function serveCommand(argv: string[], stdio: Stdio): Promise<number> {
  const parsed = parseCommand(argv, OPTIONS, SERVE_HELP, stdio.stdout, 0);
  if (parsed === null) return ExitCode.OK;
  const { values } = parsed;
  const portText = str(values, 'port');
  if (portText === undefined) throw new UsageError('serve needs --port (0 picks a free one)');
  let port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65535)
    throw new UsageError(`--port: "${portText}" is not a port`);
  // A --workers worker started after all the others died: the port they had (hub-workers.ts).
  const workerPort = cluster.isWorker ? process.env[WORKER_PORT_ENV] : undefined;
  if (port === 0 && workerPort !== undefined && /^\d+$/.test(workerPort)) port = Number(workerPort);

  const command = str(values, 'exec');
  const forwardText = str(values, 'forward');
  const target = forwardText === undefined ? undefined : parseEndpoint(forwardText, '--forward');
  const behaviours = [flag(values, 'echo'), command !== undefined, flag(values, 'broadcast')];
  behaviours.push(target !== undefined);
  if (behaviours.filter(Boolean).length !== 1) {
    throw new UsageError(
      'serve needs exactly one of --echo, --exec CMD, --broadcast, --forward ADDR',
    );
  }
  if (flag(values, 'line') && flag(values, 'binary')) {
    throw new UsageError('--line and --binary exclude each other');
  }
  if ((flag(values, 'line') || flag(values, 'binary')) && command === undefined) {
    throw new UsageError('--line and --binary apply to --exec');
  }
  const killAfterText = str(values, 'kill-after');
  if (killAfterText !== undefined && command === undefined) {
    throw new UsageError('--kill-after applies to --exec');
  }
  const killAfter =
    killAfterText === undefined
      ? DEFAULT_KILL_AFTER
      : parsePositiveDuration(killAfterText, '--kill-after');
  const slow = str(values, 'slow') ?? 'close';
  if (slow !== 'close' && slow !== 'drop')
    throw new UsageError(`--slow: "${slow}" is not close or drop`);
  const maxQueueText = str(values, 'max-queue');
  if (
    (maxQueueText !== undefined || str(values, 'slow') !== undefined) &&
    !flag(values, 'broadcast')
  ) {
    throw new UsageError('--max-queue and --slow apply to --broadcast');
  }
  const maxQueue =
    maxQueueText === undefined ? DEFAULT_MAX_QUEUE : parseSize(maxQueueText, '--max-queue');
  if (maxQueue < 1) throw new UsageError(`--max-queue: "${maxQueueText}" is less than 1 byte`);

  const flags = readConnectionFlags(values);
  const maxConnections = readMaxConnections(values);
  const options: ServeOptions = {
    ...flags,
    port,
    host: str(values, 'host') ?? '127.0.0.1',
    maxConnections,
  };
  const tls = readCertAndKey(values);
  if (tls !== undefined) options.tls = tls;

  const quiet = flag(values, 'quiet');
  const log = (line: string): void => {
    writeDiagnostic(stdio.stderr, line);
  };
  const trace = quiet ? () => {} : log;
  // Told even with --quiet: refused clients are not part of the connection log.
  const refusals = new RefusalLog(maxConnections, log);
  options.onConnectionRefused = () => refusals.refused();

  const primary = await hubWorkers(values, log);
  if (primary !== null) return primary;
  const broker = await hubBroker(values);
  const broadcast = flag(values, 'broadcast')
    ? new Broadcast({ maxQueue, slow: slow, log: trace, ...(broker !== null ? { broker } : {}) })
    : null;
  const children = new Set<ExecProcess>();
  const tunnels = new Set<Tunnel>();

  const handler = (connection: WebSocketConnection): Promise<void> | undefined => {
    const who = `${connection.remoteAddress ?? '?'}:${connection.request.socket.remotePort ?? '?'}`;
    void connection.opened.then(
      ({ extensions }) =>
        trace(
          `+ ${who} ${connection.request.url ?? '/'}${extensions !== '' ? ` (${extensions})` : ''}`,
        ),
      () => {},
    );
    connection.closed.then(
      (info) => trace(`- ${who} ${describeClose(info)}`),
      (error: unknown) => trace(`- ${who} ${describeError(error)}`),
    );
    if (broadcast !== null) {
      broadcast.add(connection);
    } else if (target !== undefined) {
      // Returned to serve(): the slot is held until the target's socket has closed too.
      return forwardConnection(connection, target, (line) => trace(`${who} ${line}`), tunnels);
    } else if (command !== undefined) {
      const child = bridgeExec(connection, command, {
        lineMode: flag(values, 'line'),
        maxLine: flags.maxMessageSize,
        killAfter,
        // Told even with --quiet: a killed command is not routine.
        log: (line) => log(`${who} ${line}`),
      });
      children.add(child);
      // Returned to serve(): the connection's slot is held until the command has exited.
      return child.exited.then(() => {
        children.delete(child);
      });
    } else {
      // Echo: each message goes back as it came, text as text; pipe() waits for every write.
      const duplex = toDuplex(connection);
      duplex.on('error', () => {});
      duplex.pipe(duplex);
    }
    return undefined;
  };

  let server: Awaited<ReturnType<typeof serve>>;
  try {
    server = await serve(options, handler);
  } catch (error) {
    // An option out of range: the caller's mistake, as in connect.
    if (error instanceof RangeError || error instanceof SyntaxError) {
      throw new UsageError(error.message);
    }
    log(describeError(error));
    return ExitCode.ERROR;
  }
  let what = broadcast !== null ? 'broadcast' : command !== undefined ? `exec ${command}` : 'echo';
  if (target !== undefined) what = `forward to ${formatEndpoint(target)}`;
  log(`listening on ${server.url} (${what})`);

  // The first signal shuts down cleanly; a second one ends everything at once (130): the
  // commands get SIGKILL, the tunnels' sockets an RST (their data may be cut short).
  let signals = 0;
  let draining = false;
  const stopped = new Promise<void>((resolve) => {
    const drain = (): void => {
      if (draining) return;
      draining = true;
      resolve();
    };
    const interrupt = (): void => {
      log('interrupted');
      for (const child of children) child.kill();
      for (const tunnel of tunnels) tunnel.abort();
      process.exit(ExitCode.INTERRUPTED);
    };
    const onSignal = (): void => {
      if (signals++ === 0) drain();
      else interrupt();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    // A closed terminal: the same clean shutdown, so that no command outlives us.
    process.on('SIGHUP', onSignal);
    // A --workers worker: what the primary asks (see hub-workers.ts). Its
    // request to drain is not a signal of ours: our own signals still count
    // as first and second, whichever comes first.
    if (cluster.isWorker) {
      process.on('message', (message) => {
        const request = primaryRequest(message);
        if (request === 'shutdown') drain();
        else if (request === 'interrupt') interrupt();
      });
      // The primary is gone (killed, say by the OOM killer). node:cluster
      // would exit at once, leaving --exec commands running and clients
      // without a Close: marked as a disconnect we expect, the worker drains
      // as for a first signal instead.
      const worker = cluster.worker;
      worker?.once('disconnect', () => {
        if (worker.exitedAfterDisconnect) return;
        (worker as { exitedAfterDisconnect: boolean }).exitedAfterDisconnect = true;
        log('the primary is gone: shutting down');
        // As a first signal: a signal of ours after it ends the worker at once.
        if (signals === 0) {
          signals = 1;
          drain();
        }
      });
    }
  });
  await stopped;
  trace('shutting down');
  refusals.flush();
  await server.close();
  await broadcast?.close();
  // Detached process groups outlive us unless they are ended: SIGTERM, then SIGKILL.
  await stopAll(children, killAfter);
  // Every message received was written to its target, then a FIN (or an RST, see
  // docs/tunnels.md); exiting earlier would end a target's socket with bytes unsent.
  await Promise.all([...tunnels].map((tunnel) => tunnel.done));
  return ExitCode.OK;
}
